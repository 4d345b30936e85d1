import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, promises as fsp, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { fieldError } from '../shared/errors.js';
import { writeFileAtomic } from '../shared/fs.js';
import { CODE_ROOT } from '../shared/version.js';
import {
  extractInstallerPackage,
  installerHeader,
  readInstaller,
  type InstallerSite,
} from '../updates/jump-client-installer.js';
import type { ReleaseKey } from '../updates/package.js';
import { loadReleaseKeys, saveReleaseKeys } from '../updates/release-keys.js';
import * as clientBuild from './client-build.js';
import { clientsErrors } from './error-codes.js';

/**
 * A Jump Client installation (S13):
 *
 * ```
 * DIR/gatehouse-jump-client.json  the installation: site, fingerprints, name, group, targets
 * DIR/identity.json               its key pair and installation id: outside every version, so
 *                                 the installation stays itself across upgrades (mode 600)
 * DIR/release-keys/<keyId>.pub    the keys its builds must be signed by
 * DIR/installers/<version>.ghjc   the installer of each version installed: the one that
 *                                 removes that version's installation (`jump-client uninstall`)
 * DIR/versions/<version>/         product trees; DIR/current -> versions/<v> runs
 * DIR/bin/gatehouse-jump-client   the launcher: runs DIR/current, and again after an upgrade
 * ```
 *
 * A newer installer replaces the installation in place (same directory, same identity); the
 * replaced version's tree is removed by the new version once it is connected to the site.
 */
export const JUMP_CLIENT_MARKER = 'gatehouse-jump-client.json';
/** The exit status of a Jump Client that replaced itself: the launcher runs DIR/current again. */
export const EXIT_UPGRADED = 75;

const Config = z.object({
  format: z.literal(1),
  site: z.string(),
  fingerprints: z.array(z.string()).min(1),
  siteCa: z.string().optional(),
  name: z.string(),
  group: z.string(),
  allow: z.array(z.string()).min(1),
  region: z.string().optional(),
});
export type JumpClientInstallConfig = z.infer<typeof Config>;

export const identityOf = (dir: string) => path.join(dir, 'identity.json');
export const jumpClientLauncher = (dir: string) => path.join(dir, 'bin', 'gatehouse-jump-client');
const installersDir = (dir: string) => path.join(dir, 'installers');
const installerOf = (dir: string, version: string) =>
  path.join(installersDir(dir), `${version}.ghjc`);

export function readInstallation(
  dir: string,
): JumpClientInstallConfig & { dir: string; current: string } {
  const abs = path.resolve(dir);
  const current = clientBuild.currentVersion(abs);
  let config: JumpClientInstallConfig | undefined;
  try {
    config = Config.parse(JSON.parse(readFileSync(path.join(abs, JUMP_CLIENT_MARKER), 'utf8')));
  } catch {
    config = undefined;
  }
  if (!config || !current)
    throw clientsErrors.JUMP_CLIENT_NOT_INSTALLED(
      `--dir: ${abs} is not a Jump Client installation. Install one with \`gatehouse jump-client install --dir ${abs} --installer FILE.ghjc --release-key KEY.pub --name NAME --allow HOST:PORT\`.`,
    );
  return { ...config, dir: abs, current };
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The launcher runs the current version with the installation's settings; a Jump Client that
 * replaced itself exits 75 and runs again from the new DIR/current. SIGTERM and SIGINT go to the
 * running version, whose exit status is the launcher's.
 */
function launcher(node: string, c: JumpClientInstallConfig): string {
  const args = [
    '--site',
    c.site,
    '--fingerprint',
    c.fingerprints[0]!,
    ...(c.siteCa ? ['--site-ca', c.siteCa] : []),
    '--name',
    c.name,
    '--group',
    c.group,
    ...c.allow.flatMap((a) => ['--allow', a]),
    ...(c.region ? ['--region', c.region] : []),
  ]
    .map(quote)
    .join(' ');
  return `#!/bin/sh
# Gatehouse Jump Client: runs the current version of this installation (exit ${EXIT_UPGRADED}: it upgraded itself, run the new one).
DIR=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
child=
trap 'test -n "$child" && kill -TERM "$child" 2>/dev/null' TERM INT
while :; do
  ${quote(node)} "$DIR/current/bin/gatehouse.js" jump-client ${args} --identity "$DIR/identity.json" --installation "$DIR" "$@" &
  child=$!
  while :; do
    wait "$child"
    rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  test "$rc" -eq ${EXIT_UPGRADED} || exit "$rc"
done
`;
}

/**
 * Install a Jump Client from an installer, or replace an installation in place with a newer
 * (or older) installer: the installer's build is verified with the release keys before it is
 * unpacked; the name and identity of an existing installation are kept.
 */
export async function installJumpClient(o: {
  dir: string;
  installer: string;
  keys: ReleaseKey[];
  name?: string;
  group?: string;
  allow?: string[];
  region?: string;
  site?: string;
}): Promise<{ dir: string; version: string; replaced?: string; config: JumpClientInstallConfig }> {
  const dir = path.resolve(o.dir);
  const before = existsSync(path.join(dir, JUMP_CLIENT_MARKER)) ? readInstallation(dir) : undefined;
  const { site, packageOffset } = await readInstaller(o.installer);
  const config = configFor(before, o, site);
  await fsp.mkdir(clientBuild.versionsDir(dir), { recursive: true });
  if (o.keys.length) saveReleaseKeys(clientBuild.releaseKeysDir(dir), o.keys);
  const pkg = path.join(dir, `.installer-${randomBytes(6).toString('hex')}.ghpkg`);
  let version: string;
  try {
    await extractInstallerPackage(o.installer, packageOffset, pkg);
    version = await clientBuild.unpackClientBuild(dir, pkg, {
      keys: loadReleaseKeys(clientBuild.releaseKeysDir(dir)),
      expectedVersion: site.version,
      modules: realpathSync(path.join(CODE_ROOT, 'node_modules')),
      noun: 'Jump Client',
      reinstall: `gatehouse jump-client install --dir ${dir} --installer FILE --release-key KEY.pub`,
    });
  } finally {
    await fsp.rm(pkg, { force: true });
  }
  await fsp.mkdir(installersDir(dir), { recursive: true });
  copyFileSync(o.installer, installerOf(dir, version));
  await writeConfig(dir, config);
  await clientBuild.switchCurrent(dir, version);
  return { dir, version, replaced: before?.current, config };
}

function configFor(
  before: JumpClientInstallConfig | undefined,
  o: { name?: string; group?: string; allow?: string[]; region?: string; site?: string },
  site: InstallerSite,
): JumpClientInstallConfig {
  if (before && o.name && o.name !== before.name)
    throw clientsErrors.JUMP_CLIENT_INSTALLED_OTHER_NAME(
      `--name: this installation is the Jump Client "${before.name}"; its identity is bound to that name. Leave out --name to replace it in place, or install "${o.name}" in another --dir.`,
    );
  const name = o.name ?? before?.name;
  const allow = o.allow?.length ? o.allow : before?.allow;
  if (!name)
    throw fieldError(
      '--name',
      "is required for a new installation: the Jump Client's name on the site, e.g. web-01",
    );
  if (!allow?.length)
    throw fieldError(
      '--allow',
      'is required for a new installation: a local target sessions may open, e.g. 127.0.0.1:22',
    );
  return {
    format: 1,
    site: o.site ?? before?.site ?? site.site.address,
    fingerprints: [...new Set([...site.site.fingerprints, ...(before?.fingerprints ?? [])])],
    ...((site.site.siteCa ?? before?.siteCa) ? { siteCa: site.site.siteCa ?? before?.siteCa } : {}),
    name,
    group: o.group ?? before?.group ?? 'default',
    allow,
    ...((o.region ?? before?.region) ? { region: o.region ?? before?.region } : {}),
  };
}

async function writeConfig(dir: string, config: JumpClientInstallConfig): Promise<void> {
  await writeFileAtomic(
    path.join(dir, JUMP_CLIENT_MARKER),
    JSON.stringify(config, null, 2) + '\n',
    0o644,
  );
  await fsp.mkdir(path.dirname(jumpClientLauncher(dir)), { recursive: true });
  await writeFileAtomic(jumpClientLauncher(dir), launcher(process.execPath, config), 0o755);
}

/**
 * Replace a running installation with the site's build (its turn in the site's upgrade wave):
 * verified with the installation's release keys, unpacked beside the running version, kept as
 * an installer of its version, and made current. The caller exits with EXIT_UPGRADED.
 */
export async function upgradeInstallation(
  dir: string,
  version: string,
  download: (file: string) => Promise<unknown>,
): Promise<void> {
  const inst = readInstallation(dir);
  const file = path.join(inst.dir, `.download-${randomBytes(6).toString('hex')}.ghpkg`);
  try {
    await download(file);
    await clientBuild.unpackClientBuild(inst.dir, file, {
      keys: loadReleaseKeys(clientBuild.releaseKeysDir(inst.dir)),
      expectedVersion: version,
      modules: realpathSync(path.join(CODE_ROOT, 'node_modules')),
      noun: 'Jump Client',
      reinstall: `gatehouse jump-client install --dir ${inst.dir} --installer FILE --release-key KEY.pub`,
    });
    const header = installerHeader({
      format: 1,
      client: 'jump-client',
      version,
      site: {
        name: inst.name,
        address: inst.site,
        fingerprints: inst.fingerprints,
        ...(inst.siteCa ? { siteCa: inst.siteCa } : {}),
      },
      createdAt: new Date().toISOString(),
    });
    await fsp.mkdir(installersDir(inst.dir), { recursive: true });
    await writeFileAtomic(
      installerOf(inst.dir, version),
      Buffer.concat([header, await fsp.readFile(file)]),
      0o644,
    );
  } finally {
    await fsp.rm(file, { force: true });
  }
  await clientBuild.switchCurrent(inst.dir, version);
}

/** The replaced versions' trees (their installers stay): run by the new version once connected. */
export async function removeReplaced(dir: string): Promise<string[]> {
  const inst = readInstallation(dir);
  return clientBuild.removeOtherVersions(inst.dir, inst.current);
}

/**
 * Remove an installation with the installer of the version it runs (as an MSI removes only
 * what it installed: keep a copy of the old installer to remove outdated installations).
 */
export async function uninstallJumpClient(
  dir: string,
  installer: string,
): Promise<JumpClientInstallConfig & { current: string }> {
  const inst = readInstallation(dir);
  const { site } = await readInstaller(installer);
  if (site.version !== inst.current)
    throw clientsErrors.JUMP_CLIENT_INSTALLER_OTHER_VERSION(
      `--installer: it is the installer of ${site.version}; ${inst.dir} runs ${inst.current}. Only the installer of the installed version removes it: use ${installerOf(inst.dir, inst.current)} (the installation keeps a copy).`,
    );
  for (const part of [
    'current',
    'versions',
    'bin',
    'release-keys',
    'identity.json',
    JUMP_CLIENT_MARKER,
    'installers',
  ])
    await fsp.rm(path.join(inst.dir, part), { recursive: true, force: true });
  return inst;
}
