import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { generateEd25519, keyId, loadPrivateKey } from '../../src/shared/crypto.js';
import { CODE_ROOT } from '../../src/shared/version.js';
import { buildPackage, type PackageKind } from '../../src/updates/package.js';
import type { ApplianceClient } from '../../src/clients/admin-client.js';
import { until } from '../../src/shared/until.js';
import { createDownloadKey } from '../../src/updates/download-key.js';

/** A release signing key pair written to `dir` (key and key.pub), as `package keygen` does. */
export function makeReleaseKey(dir: string, name = 'release.key') {
  const pair = generateEd25519();
  const keyFile = path.join(dir, name);
  writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600 });
  writeFileSync(`${keyFile}.pub`, pair.publicKeyPem);
  return { keyFile, pubFile: `${keyFile}.pub` };
}

/** Build a real signed package from this code tree (or `from`). */
export async function buildTestPackage(opts: {
  kind: PackageKind;
  version: string;
  keyFile: string;
  out: string;
  requiresBase?: string;
  from?: string;
}): Promise<string> {
  const key = loadPrivateKey(readFileSync(opts.keyFile, 'utf8'));
  await buildPackage({
    kind: opts.kind,
    version: opts.version,
    from: opts.from ?? CODE_ROOT,
    out: opts.out,
    signers: [{ key, keyId: keyId(createPublicKey(key)) }],
    requiresBase: opts.requiresBase,
    releaseNotes: `test ${opts.kind} ${opts.version}`,
    tmpDir: path.join(path.dirname(opts.out), `.build-${opts.version}-${opts.kind}`),
  });
  return opts.out;
}

function patch(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from))
    throw new Error(`cannot break ${file}: "${from}" is not in it any more`);
  writeFileSync(file, text.replace(from, to));
}

/**
 * A product code tree that fails: copies of package.json, bin and dist/src, changed so that
 * - `crash-at-start`: the worker throws before it serves;
 * - `never-healthy`: it migrates the database to a new schema, then never reports ready.
 * Used to prove automatic rollback (and that the rollback restores the pre-update database).
 */
export function brokenProductTree(
  dir: string,
  mode: 'crash-at-start' | 'never-healthy' = 'crash-at-start',
): string {
  for (const part of ['package.json', 'bin', 'dist/src']) {
    cpSync(path.join(CODE_ROOT, part), path.join(dir, part), { recursive: true });
  }
  const daemon = path.join(dir, 'dist/src/appliance/daemon.js');
  if (mode === 'crash-at-start') {
    patch(
      daemon,
      'export async function runAppliance(opts) {',
      "export async function runAppliance(opts) {\n    throw new Error('this build is broken on purpose');",
    );
  } else {
    patch(daemon, 'appliance.ready = true;', 'appliance.ready = false;');
    patch(
      path.join(dir, 'dist/src/store/migrations.js'),
      'export const SCHEMA_VERSION =',
      "MIGRATIONS.push({ version: MIGRATIONS.length + 1, description: 'trial only', sql: 'CREATE TABLE trial_only (x INTEGER)' });\nexport const SCHEMA_VERSION =",
    );
  }
  return dir;
}

export interface UpdatesStatus {
  installed: { product: string; base: string; slot: string };
  staged: {
    id: string;
    kind: string;
    version: string;
    installers: { client: string; url: string }[];
  }[];
  install: { phase: string; error?: { code: string; message: string } } | null;
  lastResult: { ok: boolean; reason?: string } | null;
  history: { event: string; reason?: string }[];
  backups: { name: string; size: number }[];
}

export async function uploadPackage(api: ApplianceClient, file: string) {
  return api.call<{ id: string; kind: string; version: string; code?: string; detail?: string }>(
    'POST',
    '/api/appliance/updates/upload',
    { raw: readFileSync(file), headers: { 'content-type': 'application/octet-stream' } },
  );
}

/** Wait until the appliance answers on `version` with no update in progress or on trial. */
export async function waitForSoftware(
  api: ApplianceClient,
  product: string,
  base?: string,
  timeoutMs = 60_000,
) {
  return until(
    async () => {
      const h = await api.call<{
        productVersion: string;
        baseVersion: string;
        ready: boolean;
        update: string | null;
      }>('GET', '/health');
      return h.status === 200 &&
        h.body.ready &&
        h.body.update === null &&
        h.body.productVersion === product &&
        (base === undefined || h.body.baseVersion === base)
        ? h.body
        : false;
    },
    timeoutMs,
    `the appliance to run product ${product}${base ? ` / base ${base}` : ''}`,
    50,
  );
}

/**
 * An appliance as the update server sees it: a name, an identity key pair (made here, as an
 * attacker or a real appliance would), what it runs, and download keys signed with that key.
 */
export function selfMadeAppliance(name: string, runs = { product: '1.0.0', base: '1.0.0' }) {
  const pair = generateEd25519();
  const token = (ttlMs = 300_000, now = Date.now()) =>
    createDownloadKey({
      appliance: name,
      identityKey: loadPrivateKey(pair.privateKeyPem),
      publicKeyPem: pair.publicKeyPem,
      ...runs,
      ttlMs,
      now,
    });
  return { name, keyId: keyId(pair.publicKeyPem), token };
}
export type SelfMadeAppliance = ReturnType<typeof selfMadeAppliance>;
