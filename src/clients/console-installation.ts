import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  promises as fsp,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
} from 'node:fs';
import path from 'node:path';
import { GatehouseError } from '../shared/errors.js';
import { fsyncDir, writeFileAtomic } from '../shared/fs.js';
import { CODE_ROOT, PRODUCT_VERSION } from '../shared/version.js';
import { extractPackage, verifyPackage, type ReleaseKey } from '../updates/package.js';
import { loadReleaseKeys, saveReleaseKeys } from '../updates/release-keys.js';

/**
 * A console installation (S12, S13):
 *
 * ```
 * DIR/gatehouse-console.json     marks the directory as an installation
 * DIR/release-keys/<keyId>.pub   the keys a console build must be signed by
 * DIR/versions/<version>/        product trees (package.json, bin, dist), node_modules linked
 * DIR/current -> versions/<v>    the version that runs (switched atomically)
 * DIR/bin/gatehouse-console      the launcher: DIR/current/bin/gatehouse.js console "$@"
 * ```
 *
 * Earlier versions' trees are kept until `console uninstall-old` removes them, so a console
 * still running an old version is never pulled from under itself.
 */
export const INSTALLATION_MARKER = 'gatehouse-console.json';

export interface ConsoleInstallation {
  dir: string;
  /** The version DIR/current points at. */
  current: string;
}

const versionsDir = (dir: string) => path.join(dir, 'versions');
export const releaseKeysDir = (dir: string) => path.join(dir, 'release-keys');
export const launcherOf = (dir: string) => path.join(dir, 'bin', 'gatehouse-console');

/** The installation this code runs from (its code root is DIR/versions/<v>), if any. */
export function runningInstallation(codeRoot = CODE_ROOT): ConsoleInstallation | undefined {
  const versions = path.dirname(codeRoot);
  if (path.basename(versions) !== 'versions') return undefined;
  const dir = path.dirname(versions);
  return existsSync(path.join(dir, INSTALLATION_MARKER)) ? openInstallation(dir) : undefined;
}

/** An existing installation; a clear error when DIR is not one. */
export function openInstallation(dir: string): ConsoleInstallation {
  const abs = path.resolve(dir);
  let current: string;
  try {
    readFileSync(path.join(abs, INSTALLATION_MARKER));
    current = path.basename(readlinkSync(path.join(abs, 'current')));
  } catch {
    throw new GatehouseError(
      'CONSOLE_NOT_INSTALLED',
      400,
      `${abs} is not a console installation. Install one with \`gatehouse console install --dir ${abs} --release-key KEY.pub\`.`,
    );
  }
  return { dir: abs, current };
}

/** Point DIR/current at versions/<version> in one rename: a console starts old or new. */
export async function switchCurrent(dir: string, version: string): Promise<void> {
  const tmp = path.join(dir, `.current-${randomBytes(6).toString('hex')}`);
  await fsp.symlink(path.join('versions', version), tmp);
  await fsp.rename(tmp, path.join(dir, 'current'));
  await fsyncDir(dir);
}

/**
 * Verify a console build (a signed product package) with the installation's release keys and
 * unpack it as DIR/versions/<version>, using the same verification and extraction as an
 * appliance install. Refused (unknown signer, altered, truncated, not a product, not the
 * expected version): a clear error and nothing changed.
 */
export async function unpackConsoleBuild(
  dir: string,
  file: string,
  opts: { keys: ReleaseKey[]; expectedVersion?: string; modules: string },
): Promise<string> {
  if (opts.keys.length === 0)
    throw new GatehouseError(
      'CONSOLE_NO_RELEASE_KEYS',
      400,
      `${releaseKeysDir(dir)} holds no release key, so no console build can be trusted. Reinstall with \`gatehouse console install --dir ${dir} --release-key KEY.pub\`.`,
    );
  const pkg = await verifyPackage(file, opts.keys);
  const { kind, version } = pkg.manifest;
  if (kind !== 'product')
    throw new GatehouseError(
      'CONSOLE_BUILD_NOT_PRODUCT',
      400,
      `The package is a ${kind} package ${version}; a console build is a product package.`,
    );
  if (opts.expectedVersion && version !== opts.expectedVersion)
    throw new GatehouseError(
      'CONSOLE_BUILD_WRONG_VERSION',
      400,
      `The console build is version ${version}, not the site's ${opts.expectedVersion}. Ask an appliance administrator to check the staged product packages.`,
    );
  const target = path.join(versionsDir(dir), version);
  const incoming = `${target}.incoming`;
  await fsp.rm(incoming, { recursive: true, force: true });
  try {
    await extractPackage(pkg, incoming);
    // Product packages carry no dependencies: they run on the installing tree's.
    await fsp.symlink(opts.modules, path.join(incoming, 'node_modules'));
  } catch (e) {
    await fsp.rm(incoming, { recursive: true, force: true });
    throw e;
  }
  await placeVersion(dir, version, incoming);
  return version;
}

async function placeVersion(dir: string, version: string, incoming: string): Promise<void> {
  const target = path.join(versionsDir(dir), version);
  const current = existsSync(path.join(dir, 'current')) ? openInstallation(dir).current : undefined;
  if (current === version)
    throw new GatehouseError(
      'CONSOLE_VERSION_RUNNING',
      409,
      `${version} is already the current version of ${dir}; nothing to do.`,
    );
  await fsp.rm(target, { recursive: true, force: true });
  await fsp.rename(incoming, target);
  await fsyncDir(versionsDir(dir));
}

/** Copy the running code tree (package.json, bin, dist/src) as a version of the installation. */
async function copyRunningTree(dir: string, modules: string): Promise<string> {
  const incoming = path.join(versionsDir(dir), `${PRODUCT_VERSION}.incoming`);
  await fsp.rm(incoming, { recursive: true, force: true });
  for (const part of ['package.json', 'bin', path.join('dist', 'src')])
    cpSync(path.join(CODE_ROOT, part), path.join(incoming, part), { recursive: true });
  await fsp.symlink(modules, path.join(incoming, 'node_modules'));
  await placeVersion(dir, PRODUCT_VERSION, incoming);
  return PRODUCT_VERSION;
}

const LAUNCHER = (node: string) => `#!/bin/sh
# Gatehouse representative console: runs the current version of this installation.
DIR=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
exec "${node}" "$DIR/current/bin/gatehouse.js" console "$@"
`;

/**
 * Install (or reinstall) a console into DIR from a signed console build, or from the running
 * code tree; the new version becomes current (a new installer replaces the old installation).
 */
export async function installConsole(opts: {
  dir: string;
  keys: ReleaseKey[];
  packageFile?: string;
}): Promise<ConsoleInstallation> {
  const dir = path.resolve(opts.dir);
  await fsp.mkdir(versionsDir(dir), { recursive: true });
  saveReleaseKeys(releaseKeysDir(dir), opts.keys);
  const modules = realpathSync(path.join(CODE_ROOT, 'node_modules'));
  const version = opts.packageFile
    ? await unpackConsoleBuild(dir, opts.packageFile, {
        keys: loadReleaseKeys(releaseKeysDir(dir)),
        modules,
      })
    : await copyRunningTree(dir, modules);
  await fsp.mkdir(path.dirname(launcherOf(dir)), { recursive: true });
  await writeFileAtomic(launcherOf(dir), LAUNCHER(process.execPath), 0o755);
  await writeFileAtomic(
    path.join(dir, INSTALLATION_MARKER),
    JSON.stringify({ format: 1, installedAt: new Date().toISOString() }) + '\n',
    0o644,
  );
  await switchCurrent(dir, version);
  return { dir, current: version };
}

/** Remove every version's tree but the current one (and leftovers of interrupted unpacks). */
export async function uninstallOld(dir: string): Promise<string[]> {
  const inst = openInstallation(dir);
  const removed: string[] = [];
  for (const name of readdirSync(versionsDir(inst.dir))) {
    if (name === inst.current) continue;
    await fsp.rm(path.join(versionsDir(inst.dir), name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed.sort();
}
