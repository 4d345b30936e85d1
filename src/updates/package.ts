import type { KeyObject } from 'node:crypto';
import { promises as fsp, readFileSync, existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

import { keyId, loadPublicKey, verifyEd25519 } from '../shared/crypto.js';
import { compareVersions } from '../shared/version.js';
import {
  BundleEntry,
  checkBundleEntries,
  extractBundle,
  fileDigest,
  openBundle,
  writeBundle,
  type BundleKind,
  type BundleSource,
  type OpenedBundle,
} from '../shared/signed-bundle.js';
import { updatesErrors } from './error-codes.js';

/**
 * Update packages: signed bundles (src/shared/signed-bundle.ts) marked GATEHOUSE-PACKAGE.
 *
 * - A **product** package carries the appliance program itself: package.json (whose version
 *   is the package's version, so the installed code reports it), bin/ and the compiled dist/src
 *   (which also serves as the console and Jump Client build of that version).
 * - A **base** package carries the runtime layer the product runs on: the production
 *   dependency tree (node_modules) with a marker file naming the base version.
 *
 * As in TUF and RAUC, the signed header is verified against the release keys the appliance
 * trusts before a payload byte is read, and every entry is checked against its digest.
 */
export const PACKAGE: BundleKind = {
  marker: 'GATEHOUSE-PACKAGE\n',
  errors: {
    TRUNCATED: updatesErrors.PACKAGE_TRUNCATED,
    NOT_RECOGNISED: updatesErrors.PACKAGE_NOT_RECOGNISED,
    CORRUPT: updatesErrors.PACKAGE_CORRUPT,
  },
  noun: 'update package',
  fix: 'Download the package again from the update server.',
};

/** Written inside node_modules by a base package; names the base version of that runtime. */
export const BASE_MARKER = '.gatehouse-base.json';

const Version = z.string().regex(/^\d+\.\d+\.\d+$/, 'must be MAJOR.MINOR.PATCH, e.g. 1.2.0');

export const PackageManifest = z.object({
  format: z.literal(1),
  product: z.literal('gatehouse'),
  kind: z.enum(['base', 'product']),
  version: Version,
  /** A product names the minimum base version it runs on. */
  requires: z.object({ base: Version.optional() }),
  releaseNotes: z.string(),
  createdAt: z.string(),
  entries: z.array(BundleEntry),
});
export type PackageManifest = z.infer<typeof PackageManifest>;
export type PackageKind = PackageManifest['kind'];

export interface ReleaseKey {
  keyId: string;
  publicKey: KeyObject;
}

export interface InspectedPackage {
  manifest: PackageManifest;
  signerKeyIds: string[];
  /** Size and sha256 of the whole package file (what update servers publish). */
  size: number;
  sha256: string;
  bundle: OpenedBundle;
}

export function releaseKeyFromPem(pem: string): ReleaseKey {
  const publicKey = loadPublicKey(pem);
  return { keyId: keyId(publicKey), publicKey };
}

/** Read a package's structure and manifest without trusting it (no signature decision). */
export async function inspectPackage(file: string): Promise<InspectedPackage> {
  return described(await openBundle(file, PACKAGE));
}

/** The whole-file digest, unless the caller already knows it (a staged package's id). */
type KnownDigest = { size: number; sha256: string } | undefined;

async function described(bundle: OpenedBundle, known?: KnownDigest): Promise<InspectedPackage> {
  const manifest = PackageManifest.safeParse(bundle.header);
  if (!manifest.success) {
    const issue = manifest.error.issues[0];
    throw updatesErrors.PACKAGE_CORRUPT(
      `The update package manifest is malformed (${issue?.path.join('.')}: ${issue?.message}). ${PACKAGE.fix}`,
    );
  }
  return {
    manifest: manifest.data,
    signerKeyIds: bundle.signatures.map((s) => s.keyId),
    ...(known ?? (await fileDigest(bundle.file))),
    bundle,
  };
}

/**
 * Check a package's signature against the trusted release keys before its manifest is even
 * interpreted: at least one signature by a trusted key must verify over the exact header
 * bytes; anything else is refused before the payload is read.
 */
export async function verifyPackage(
  file: string,
  trusted: ReleaseKey[],
  known?: KnownDigest,
): Promise<InspectedPackage> {
  const bundle = await openBundle(file, PACKAGE);
  const byId = new Map(trusted.map((k) => [k.keyId, k.publicKey]));
  const candidates = bundle.signatures.filter((s) => byId.has(s.keyId));
  if (candidates.length === 0) {
    const ids = bundle.signatures.map((s) => s.keyId.slice(0, 16) + '…').join(', ') || 'none';
    throw updatesErrors.PACKAGE_UNTRUSTED_SIGNER(
      `The update package is signed by key(s) ${ids}, none of which this appliance trusts. Install only packages published for Gatehouse (signed by a release key fixed at appliance init).`,
    );
  }
  const good = candidates.some((s) =>
    verifyEd25519(byId.get(s.keyId)!, bundle.headerBytes, Buffer.from(s.signature, 'base64')),
  );
  if (!good) {
    throw updatesErrors.PACKAGE_BAD_SIGNATURE(
      `The update package signature does not verify: the package was altered after it was signed. ${PACKAGE.fix}`,
    );
  }
  return described(bundle, known);
}

/** Read the whole payload once and check every entry against its signed digest. */
export async function checkPayload(pkg: InspectedPackage): Promise<void> {
  await checkBundleEntries(pkg.bundle, PACKAGE);
}

/** Unpack a verified package into `intoDir` (each entry checked against its digest). */
export async function extractPackage(pkg: InspectedPackage, intoDir: string): Promise<void> {
  await extractBundle(pkg.bundle, intoDir, PACKAGE);
}

/** Install order: bases before the products that need them; each kind by version. */
export function installOrder<T extends { kind: PackageKind; version: string }>(pkgs: T[]): T[] {
  return [...pkgs].sort((a, b) =>
    a.kind !== b.kind ? (a.kind === 'base' ? -1 : 1) : compareVersions(a.version, b.version),
  );
}

// ---------------------------------------------------------------------------------------------
// Building packages

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await fsp.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await listFiles(root, r)));
    else if (d.isFile()) out.push(r);
  }
  return out.sort();
}

async function modeOf(file: string): Promise<number> {
  return (await fsp.stat(file)).mode & 0o755;
}

/** Files of a product payload, taken from a built code tree (package.json, bin, dist/src). */
async function productSources(tree: string, version: string, tmpDir: string) {
  const pkgJson = JSON.parse(readFileSync(path.join(tree, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  if (pkgJson.name !== 'gatehouse')
    throw updatesErrors.PACKAGE_SOURCE_INVALID(
      `--from ${tree}: not a Gatehouse code tree (its package.json is not "gatehouse").`,
    );
  if (!existsSync(path.join(tree, 'dist', 'src', 'cli', 'main.js')))
    throw updatesErrors.PACKAGE_SOURCE_INVALID(
      `--from ${tree}: dist/src is missing. Build the code first (npm run build).`,
    );
  // The installed code reports the package's version because its own package.json says so.
  const manifestFile = path.join(tmpDir, 'package.json');
  await fsp.writeFile(manifestFile, JSON.stringify({ ...pkgJson, version }, null, 2) + '\n');
  const sources: BundleSource[] = [{ name: 'package.json', file: manifestFile, mode: 0o644 }];
  for (const dir of ['bin', 'dist/src']) {
    for (const rel of await listFiles(path.join(tree, dir))) {
      if (rel.endsWith('.map')) continue;
      const file = path.join(tree, dir, rel);
      sources.push({ name: `${dir}/${rel}`, file, mode: await modeOf(file) });
    }
  }
  return sources;
}

/** Files in a dependency that the runtime never loads: typings, source maps, documentation, tests. */
const NOT_RUNTIME =
  /(^|\/)(test|tests|__tests__|docs|example|examples|benchmark|benchmarks|bench|\.github)\/|\.d\.[cm]?ts$|\.map$|\.(md|markdown)$/i;

/**
 * Leaves out what the runtime never loads: nested node_modules (resolved on their own), typings,
 * maps, docs and tests (licences stay) and, for native addons (a binding.gyp), the compiler's
 * intermediates and C/C++ sources. (A base that lacked a file the runtime needs would fail its
 * trial health check and be rolled back.)
 */
function runtimeNeeds(native: boolean, rel: string): boolean {
  if (rel.startsWith('node_modules/') || NOT_RUNTIME.test(rel)) return false;
  if (!native) return true;
  if (rel.startsWith('build/')) return /^build\/Release\/[^/]+\.node$/.test(rel);
  return !rel.startsWith('deps/') && !rel.startsWith('src/');
}

/**
 * The production dependency closure of a code tree: every package reachable from its
 * package.json dependencies, resolved the way Node resolves them (nearest node_modules up).
 */
export function productionClosure(tree: string): string[] {
  const rootModules = path.join(tree, 'node_modules');
  const seen = new Set<string>();
  const resolveFrom = (fromDir: string, name: string): string | undefined => {
    let dir = fromDir;
    for (;;) {
      const candidate = path.join(dir, 'node_modules', name);
      if (existsSync(path.join(candidate, 'package.json'))) return candidate;
      if (path.resolve(dir) === path.resolve(tree)) return undefined;
      const parent = path.dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  };
  const visit = (pkgDir: string, optional: Set<string>) => {
    const json = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const deps = { ...json.dependencies, ...json.optionalDependencies };
    for (const name of Object.keys(deps)) {
      const found = resolveFrom(pkgDir, name);
      if (!found) {
        if (optional.has(name) || json.optionalDependencies?.[name]) continue;
        throw updatesErrors.PACKAGE_SOURCE_INVALID(
          `--from ${tree}: dependency ${name} of ${path.relative(tree, pkgDir) || 'the product'} is not installed. Run npm ci there first.`,
        );
      }
      const real = realpathSync(found);
      if (seen.has(real)) continue;
      seen.add(real);
      visit(found, new Set(Object.keys(json.optionalDependencies ?? {})));
    }
  };
  visit(tree, new Set());
  return [...seen]
    .map((dir) => path.relative(realpathSync(rootModules), dir))
    .filter((rel) => !rel.startsWith('..'))
    .sort();
}

async function baseSources(tree: string, version: string, tmpDir: string) {
  const modules = realpathSync(path.join(tree, 'node_modules'));
  const sources: BundleSource[] = [];
  for (const rel of productionClosure(tree)) {
    const pkgDir = path.join(modules, rel);
    const native = existsSync(path.join(pkgDir, 'binding.gyp'));
    for (const f of await listFiles(pkgDir)) {
      if (!runtimeNeeds(native, f)) continue;
      const file = path.join(pkgDir, f);
      sources.push({ name: `node_modules/${rel}/${f}`, file, mode: await modeOf(file) });
    }
  }
  const marker = path.join(tmpDir, BASE_MARKER);
  await fsp.writeFile(marker, JSON.stringify({ version }) + '\n');
  sources.push({ name: `node_modules/${BASE_MARKER}`, file: marker, mode: 0o644 });
  return sources;
}

export interface BuildOptions {
  kind: PackageKind;
  version: string;
  /** The built code tree the payload is taken from. */
  from: string;
  out: string;
  signers: { key: KeyObject; keyId: string }[];
  releaseNotes?: string;
  /** Product only: the minimum base version it needs. */
  requiresBase?: string;
  tmpDir: string;
}

export async function buildPackage(opts: BuildOptions): Promise<PackageManifest> {
  const version = Version.safeParse(opts.version);
  if (!version.success)
    throw updatesErrors.PACKAGE_VERSION_INVALID(
      `--version ${opts.version}: must be MAJOR.MINOR.PATCH, e.g. 1.2.0.`,
      {
        fields: [{ field: 'version', message: 'must be MAJOR.MINOR.PATCH, e.g. 1.2.0' }],
      },
    );
  if (opts.requiresBase !== undefined && !Version.safeParse(opts.requiresBase).success)
    throw updatesErrors.PACKAGE_VERSION_INVALID(
      `--requires-base ${opts.requiresBase}: must be MAJOR.MINOR.PATCH.`,
      {
        fields: [{ field: 'requires-base', message: 'must be MAJOR.MINOR.PATCH, e.g. 1.1.0' }],
      },
    );
  await fsp.mkdir(opts.tmpDir, { recursive: true });
  const sources =
    opts.kind === 'product'
      ? await productSources(opts.from, opts.version, opts.tmpDir)
      : await baseSources(opts.from, opts.version, opts.tmpDir);
  const header = {
    format: 1 as const,
    product: 'gatehouse' as const,
    kind: opts.kind,
    version: opts.version,
    requires: opts.kind === 'product' && opts.requiresBase ? { base: opts.requiresBase } : {},
    releaseNotes: opts.releaseNotes ?? '',
    createdAt: new Date().toISOString(),
  };
  const tmpOut = `${opts.out}.partial`;
  const written = await writeBundle(tmpOut, PACKAGE.marker, header, sources, opts.signers);
  await fsp.rename(tmpOut, opts.out);
  return { ...header, entries: written.entries };
}
