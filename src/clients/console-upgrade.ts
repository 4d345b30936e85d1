import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp, realpathSync } from 'node:fs';
import path from 'node:path';
import { GatehouseError, isGatehouseError } from '../shared/errors.js';
import { CODE_ROOT, PRODUCT_VERSION } from '../shared/version.js';
import { loadReleaseKeys } from '../updates/release-keys.js';
import {
  releaseKeysDir,
  runningInstallation,
  switchCurrent,
  unpackConsoleBuild,
  type ConsoleInstallation,
} from './console-installation.js';
import type { SiteApi } from './site-api.js';
import { clientsErrors } from './error-codes.js';

/** Set in the restarted console: it upgraded once and does not try again in a loop. */
const UPGRADED_ENV = 'GATEHOUSE_CONSOLE_UPGRADED_FROM';

export type FollowResult = 'same-version' | 'not-followed' | 'upgraded';

/**
 * S12: console builds follow the site. A console running from an installation whose version
 * differs from the site's downloads the site's build, verifies it with the installation's
 * release keys, unpacks it beside the running version and switches DIR/current to it; the
 * caller then restarts from the new version (`restartFromCurrent`). A console run from a plain
 * code tree only says how to install the site's build.
 */
export async function followSite(
  api: SiteApi,
  ticket: string,
  siteVersion: string,
  say: (line: string) => void,
  installation: ConsoleInstallation | undefined = runningInstallation(),
): Promise<FollowResult> {
  if (siteVersion === PRODUCT_VERSION) return 'same-version';
  if (!installation) {
    say(
      `This console is ${PRODUCT_VERSION}; the site runs ${siteVersion}. To follow the site, install its console build: ` +
        '`gatehouse console download-build --out console.ghpkg`, then `gatehouse console install --dir DIR --package console.ghpkg --release-key KEY.pub` and run DIR/bin/gatehouse-console.',
    );
    return 'not-followed';
  }
  if (process.env[UPGRADED_ENV]) {
    say(
      `This console is ${PRODUCT_VERSION} (upgraded from ${process.env[UPGRADED_ENV]}); the site now runs ${siteVersion}. Start the console again to follow it.`,
    );
    return 'not-followed';
  }
  say(`This console is ${PRODUCT_VERSION}; the site runs ${siteVersion}: upgrading.`);
  await upgradeTo(api, ticket, siteVersion, installation);
  say(
    `Installed the site's console build ${siteVersion} in ${installation.dir} (kept ${PRODUCT_VERSION}; remove it with \`gatehouse console uninstall-old --dir ${installation.dir}\`). Restarting.`,
  );
  return 'upgraded';
}

async function upgradeTo(
  api: SiteApi,
  ticket: string,
  siteVersion: string,
  inst: ConsoleInstallation,
): Promise<void> {
  const download = path.join(
    inst.dir,
    'versions',
    `.download-${randomBytes(6).toString('hex')}.ghpkg`,
  );
  try {
    await api.downloadConsoleBuild(ticket, download);
    await unpackConsoleBuild(inst.dir, download, {
      keys: loadReleaseKeys(releaseKeysDir(inst.dir)),
      expectedVersion: siteVersion,
      modules: realpathSync(path.join(CODE_ROOT, 'node_modules')),
    });
  } catch (e) {
    if (!isGatehouseError(e)) throw e;
    throw new GatehouseError(
      e.code,
      e.status,
      `The site's console build ${siteVersion} was not installed: ${e.message} This console (${PRODUCT_VERSION}) is unchanged.`,
    );
  } finally {
    await fsp.rm(download, { force: true });
  }
  await switchCurrent(inst.dir, siteVersion);
}

/**
 * Run the same command line again from DIR/current (now the new version), with this
 * process's terminal, and exit with its exit code.
 */
export function restartFromCurrent(): Promise<never> {
  const inst = runningInstallation();
  if (!inst) throw new Error('restartFromCurrent: not running from an installation');
  const script = path.join(inst.dir, 'current', 'bin', 'gatehouse.js');
  const child = spawn(process.execPath, [...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [UPGRADED_ENV]: PRODUCT_VERSION },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((_, reject) => {
    child.once('error', (e) =>
      reject(
        clientsErrors.CONSOLE_RESTART_FAILED(
          `The console upgraded but could not start ${script}: ${e.message}. Run the command again.`,
        ),
      ),
    );
    child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  });
}
