import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';

import { fsyncPath } from '../shared/fs.js';
import { extractPackage, verifyPackage, type ReleaseKey } from '../updates/package.js';
import { clientsErrors } from './error-codes.js';

/**
 * What a console installation and a Jump Client installation share (S12, S13): versions kept
 * side by side in DIR/versions/<version>, the one that runs named by the DIR/current link
 * (switched in one rename), and the client build of a version, which is its signed product
 * package, verified and unpacked by the same code as an appliance install.
 */
export const versionsDir = (dir: string) => path.join(dir, 'versions');
export const releaseKeysDir = (dir: string) => path.join(dir, 'release-keys');

/** The version DIR/current points at, if any. */
export function currentVersion(dir: string): string | undefined {
  return existsSync(path.join(dir, 'current'))
    ? path.basename(readlinkSync(path.join(dir, 'current')))
    : undefined;
}

/** Point DIR/current at versions/<version> in one rename: a client starts old or new. */
export async function switchCurrent(dir: string, version: string): Promise<void> {
  const tmp = path.join(dir, `.current-${randomBytes(6).toString('hex')}`);
  await fsp.symlink(path.join('versions', version), tmp);
  await fsp.rename(tmp, path.join(dir, 'current'));
  await fsyncPath(dir);
}

export interface BuildOptions {
  keys: ReleaseKey[];
  expectedVersion?: string;
  /** The node_modules the build runs on (product packages carry no dependencies). */
  modules: string;
  /** 'console' or 'Jump Client': what the messages name. */
  noun: string;
  /** The command that reinstalls with release keys (the fix when none is kept). */
  reinstall: string;
}

/**
 * Verify a client build (a signed product package) with the installation's release keys and
 * unpack it as DIR/versions/<version>. Refused (unknown signer, altered, truncated, not a
 * product, not the expected version): a clear error and nothing changed.
 */
export async function unpackClientBuild(
  dir: string,
  file: string,
  opts: BuildOptions,
): Promise<string> {
  if (opts.keys.length === 0)
    throw clientsErrors.CLIENT_NO_RELEASE_KEYS(
      `${releaseKeysDir(dir)} holds no release key, so no ${opts.noun} build can be trusted. Reinstall with \`${opts.reinstall}\`.`,
    );
  const pkg = await verifyPackage(file, opts.keys);
  const { kind, version } = pkg.manifest;
  if (kind !== 'product')
    throw clientsErrors.CLIENT_BUILD_NOT_PRODUCT(
      `The package is a ${kind} package ${version}; a ${opts.noun} build is a product package.`,
    );
  if (opts.expectedVersion && version !== opts.expectedVersion)
    throw clientsErrors.CLIENT_BUILD_WRONG_VERSION(
      `The ${opts.noun} build is version ${version}, not the site's ${opts.expectedVersion}. Ask an appliance administrator to check the staged product packages.`,
    );
  const incoming = `${path.join(versionsDir(dir), version)}.incoming`;
  await fsp.rm(incoming, { recursive: true, force: true });
  try {
    await extractPackage(pkg, incoming);
    await fsp.symlink(opts.modules, path.join(incoming, 'node_modules'));
  } catch (e) {
    await fsp.rm(incoming, { recursive: true, force: true });
    throw e;
  }
  await placeVersion(dir, version, incoming, opts.noun);
  return version;
}

/** Move an unpacked tree to DIR/versions/<version>; never over the version that runs. */
export async function placeVersion(
  dir: string,
  version: string,
  incoming: string,
  noun: string,
): Promise<void> {
  if (currentVersion(dir) === version) {
    await fsp.rm(incoming, { recursive: true, force: true });
    throw clientsErrors.CLIENT_VERSION_RUNNING(
      `${version} is already the current version of the ${noun} installation ${dir}; nothing to do.`,
    );
  }
  const target = path.join(versionsDir(dir), version);
  await fsp.rm(target, { recursive: true, force: true });
  await fsp.rename(incoming, target);
  await fsyncPath(versionsDir(dir));
}

/** Remove every version's tree but CURRENT (and leftovers of interrupted unpacks). */
export async function removeOtherVersions(dir: string, current: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of readdirSync(versionsDir(dir))) {
    if (name === current) continue;
    await fsp.rm(path.join(versionsDir(dir), name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed.sort();
}
