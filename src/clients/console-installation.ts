import {
  cpSync,
  existsSync,
  promises as fsp,
  readFileSync,
  readlinkSync,
  realpathSync,
} from 'node:fs';
import path from 'node:path';

import { writeFileAtomic } from '../shared/fs.js';
import { CODE_ROOT, PRODUCT_VERSION } from '../shared/version.js';
import type { ReleaseKey } from '../updates/package.js';
import * as clientBuild from './client-build.js';
import { loadReleaseKeys, saveReleaseKeys } from '../updates/release-keys.js';
import { clientsErrors } from './error-codes.js';

export { releaseKeysDir, switchCurrent } from './client-build.js';

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
    throw clientsErrors.CONSOLE_NOT_INSTALLED(
      `${abs} is not a console installation. Install one with \`gatehouse console install --dir ${abs} --release-key KEY.pub\`.`,
    );
  }
  return { dir: abs, current };
}

/** Verify and unpack a console build (src/clients/client-build.ts). */
export function unpackConsoleBuild(
  dir: string,
  file: string,
  opts: { keys: ReleaseKey[]; expectedVersion?: string; modules: string },
): Promise<string> {
  return clientBuild.unpackClientBuild(dir, file, {
    ...opts,
    noun: 'console',
    reinstall: `gatehouse console install --dir ${dir} --release-key KEY.pub`,
  });
}

/** Copy the running code tree (package.json, bin, dist/src) as a version of the installation. */
async function copyRunningTree(dir: string, modules: string): Promise<string> {
  const incoming = path.join(clientBuild.versionsDir(dir), `${PRODUCT_VERSION}.incoming`);
  await fsp.rm(incoming, { recursive: true, force: true });
  for (const part of ['package.json', 'bin', path.join('dist', 'src')])
    cpSync(path.join(CODE_ROOT, part), path.join(incoming, part), { recursive: true });
  await fsp.symlink(modules, path.join(incoming, 'node_modules'));
  await clientBuild.placeVersion(dir, PRODUCT_VERSION, incoming, 'console');
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
  await fsp.mkdir(clientBuild.versionsDir(dir), { recursive: true });
  saveReleaseKeys(clientBuild.releaseKeysDir(dir), opts.keys);
  const modules = realpathSync(path.join(CODE_ROOT, 'node_modules'));
  const version = opts.packageFile
    ? await unpackConsoleBuild(dir, opts.packageFile, {
        keys: loadReleaseKeys(clientBuild.releaseKeysDir(dir)),
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
  await clientBuild.switchCurrent(dir, version);
  return { dir, current: version };
}

/** Remove every version's tree but the current one (and leftovers of interrupted unpacks). */
export async function uninstallOld(dir: string): Promise<string[]> {
  const inst = openInstallation(dir);
  return clientBuild.removeOtherVersions(inst.dir, inst.current);
}
