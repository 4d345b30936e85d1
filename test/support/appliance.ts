import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';
import { ApplianceClient } from '../../src/clients/admin-client.js';
import { initAppliance } from '../../src/appliance/init.js';
import { startApplianceProcess, type ApplianceProcess } from '../../src/lab/processes.js';
import { writeApplianceSetting } from '../../src/store/appliance-settings.js';

export { until } from '../../src/shared/until.js';

export const ADMIN_PASSWORD = 'Gatekeeper-Pass-1';
export const LOGIN_PASSWORD = 'Site-Operator-Pw-2';

export interface TestAppliance {
  proc: ApplianceProcess;
  dataDir: string;
  /** A client signed in to both areas (bearer tokens). */
  api: ApplianceClient;
  /** A client with no session. */
  anon: ApplianceClient;
  /** Stop, run `whileStopped` (e.g. change its data directory), start again. */
  restart(whileStopped?: () => void | Promise<void>): Promise<void>;
  /** SIGKILL the whole appliance (supervisor and worker), then start it again. */
  crashAndRestart(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups.length = 0;
});

/** A temporary directory removed after the test file, even when a test fails. */
/**
 * Store one of a stopped appliance's own settings as it is, unchecked (what an older version
 * may have saved): for `restart`'s `whileStopped`.
 */
export function storeApplianceSetting(dataDir: string, key: string, value: unknown): void {
  const db = new Database(path.join(dataDir, 'store', 'gatehouse.db'));
  try {
    writeApplianceSetting(db, key, value);
  } finally {
    db.close();
  }
}

export function tempDir(prefix = 'gh-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Initialise and start a real appliance process on loopback (its own 127.0.0.x address when
 * `host` is given), signed in to both admin areas. Stopped and removed after the test file.
 */
export async function startTestAppliance(
  opts: {
    name?: string;
    host?: string;
    /** A fixed port (default: a free one). Shared-address tests give two appliances the same. */
    port?: number;
    interApplianceKey?: string;
    releaseKeyFiles?: string[];
    /** Variables for the appliance process (e.g. GATEHOUSE_RESUME_WINDOW_MS). */
    env?: Record<string, string>;
    /** Its pino log level (default info). */
    logLevel?: string;
  } = {},
): Promise<TestAppliance> {
  const root = tempDir();
  const dataDir = path.join(root, 'data');
  const host = opts.host ?? '127.0.0.1';
  // `appliance init`'s own code, run here: a process of its own loaded the program (1.5–2 s of
  // CPU) for each appliance of the suite. The CLI's init is tested by cli.test.ts, and every
  // lab starts its appliances with it.
  await initAppliance({
    dataDir,
    name: opts.name ?? 'appliance-test',
    hostnames: ['site.gatehouse.test'],
    addresses: [host],
    applianceAdmin: { username: 'admin', password: ADMIN_PASSWORD },
    loginAdmin: { username: 'admin', password: LOGIN_PASSWORD },
    interApplianceKey: opts.interApplianceKey,
    releaseKeys: (opts.releaseKeyFiles ?? []).map((file) => ({
      pem: readFileSync(file, 'utf8'),
      source: file,
    })),
  });
  const t = {} as TestAppliance;
  const open = async (port?: number) => {
    t.proc = await startApplianceProcess(dataDir, {
      host,
      port,
      env: opts.env,
      logLevel: opts.logLevel,
    });
    t.api = t.proc.client();
    t.anon = t.proc.client();
    // Side by side: each sign-in hashes its password (scrypt, a few hundred ms under load).
    await Promise.all([
      t.api.signIn('appliance', 'admin', ADMIN_PASSWORD),
      t.api.signIn('login', 'admin', LOGIN_PASSWORD),
    ]);
  };
  await open(opts.port);
  t.dataDir = dataDir;
  t.restart = async (whileStopped) => {
    const port = t.proc.port;
    await t.proc.stop();
    await Promise.all([t.api.close(), t.anon.close()]);
    await whileStopped?.();
    await open(port);
  };
  t.crashAndRestart = async () => {
    const port = t.proc.port;
    await t.proc.kill();
    await Promise.all([t.api.close(), t.anon.close()]);
    await open(port);
  };
  cleanups.push(async () => {
    await Promise.all([t.api.close(), t.anon.close()]);
    await t.proc.stop().catch(() => t.proc.kill());
  });
  return t;
}

/** Establish a failover relationship from `primary` (S14), first sync after a second. */
export function establishPair(
  primary: TestAppliance,
  backup: TestAppliance,
  extra: Record<string, unknown> = {},
) {
  return primary.api.call('POST', '/api/login/failover/establish', {
    json: {
      backupHost: backup.proc.host,
      backupPort: backup.proc.port,
      reverseHost: primary.proc.host,
      reversePort: primary.proc.port,
      firstSyncAfterSeconds: 1,
      ...extra,
    },
  });
}

/** The site data a backup carries and a sync replaces (users, settings, files), as the API shows it. */
export async function siteState(t: TestAppliance) {
  const users = (
    await t.api.call<{ users: { username: string; displayName: string }[] }>(
      'GET',
      '/api/login/users',
    )
  ).body.users.map((u) => `${u.username}:${u.displayName}`);
  const settings = (await t.api.call('GET', '/api/login/settings')).body;
  const files = (
    await t.api.call<{ files: { name: string; sha256: string }[] }>('GET', '/api/login/files')
  ).body.files.map((f) => `${f.name}:${f.sha256}`);
  return { users, settings, files };
}
