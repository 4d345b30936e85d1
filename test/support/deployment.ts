import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inventoryYaml, type Inventory } from '../../src/orchestrator/inventory.js';
import { freePort, GATEHOUSE_BIN } from '../../src/lab/processes.js';
import { PRODUCT_VERSION } from '../../src/shared/version.js';
import {
  ADMIN_PASSWORD,
  LOGIN_PASSWORD,
  startTestAppliance,
  tempDir,
  type TestAppliance,
} from './appliance.js';
import { buildTestPackage, makeReleaseKey } from './updates.js';

export const NEXT_VERSION = PRODUCT_VERSION.replace(/(\d+)$/, (n) => String(Number(n) + 1));

export interface TestDeployment {
  dir: string;
  inventory: string;
  packages: string;
  release: { keyFile: string; pubFile: string };
  appliances: TestAppliance[];
}

/** Write the inventory of these appliances (credentials in files beside it, mode 600). */
export async function writeInventory(
  dir: string,
  appliances: TestAppliance[],
  site: string,
  method: Inventory['trafficSwitch']['method'],
): Promise<string> {
  writeFileSync(path.join(dir, 'appliance.pw'), ADMIN_PASSWORD, { mode: 0o600 });
  writeFileSync(path.join(dir, 'login.pw'), LOGIN_PASSWORD, { mode: 0o600 });
  const file = path.join(dir, 'inventory.yaml');
  writeFileSync(
    file,
    await inventoryYaml({
      version: 1,
      site: { address: site },
      credentials: {
        appliance: { username: 'admin', password: { file: 'appliance.pw' } },
        login: { username: 'admin', password: { file: 'login.pw' } },
      },
      trafficSwitch: { method },
      appliances: appliances.map((t) => ({
        name: nameOf(t),
        address: `${t.proc.host}:${t.proc.port}`,
        fingerprint: t.proc.fingerprint,
      })),
    }),
  );
  return file;
}

const names = new WeakMap<TestAppliance, string>();
const nameOf = (t: TestAppliance) => names.get(t)!;

/**
 * A failover pair on one port of two loopback addresses with a shared address that the primary
 * holds (S19), synchronised, with a signed product package of the next version ready to install.
 */
export async function startPairDeployment(opts: {
  a: string;
  b: string;
  shared: string;
  key: string;
  packageFrom?: string;
}): Promise<TestDeployment> {
  const dir = tempDir('gh-deploy-');
  const release = makeReleaseKey(dir);
  const port = await freePort(opts.a);
  const packages = path.join(dir, 'packages');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(packages);
  const [a, b] = await Promise.all([
    startTestAppliance({
      name: 'pair-a',
      host: opts.a,
      port,
      interApplianceKey: opts.key,
      releaseKeyFiles: [release.pubFile],
    }),
    startTestAppliance({
      name: 'pair-b',
      host: opts.b,
      port,
      interApplianceKey: opts.key,
      releaseKeyFiles: [release.pubFile],
    }),
    buildTestPackage({
      kind: 'product',
      version: NEXT_VERSION,
      keyFile: release.keyFile,
      out: path.join(packages, `product-${NEXT_VERSION}.ghpkg`),
      from: opts.packageFrom,
    }),
  ]);
  names.set(a!, 'pair-a');
  names.set(b!, 'pair-b');
  await callExpecting(
    a!,
    'POST',
    '/api/appliance/network/addresses',
    { address: opts.shared, kind: 'shared', enabled: true },
    201,
  );
  await callExpecting(
    b!,
    'POST',
    '/api/appliance/network/addresses',
    { address: opts.shared, kind: 'shared', enabled: false },
    201,
  );
  await callExpecting(
    a!,
    'POST',
    '/api/login/failover/establish',
    {
      backupHost: opts.b,
      backupPort: port,
      reverseHost: opts.a,
      reversePort: port,
      firstSyncAfterSeconds: 1,
    },
    201,
  );
  await callExpecting(a!, 'POST', '/api/login/failover/sync', undefined, 200);
  const inventory = await writeInventory(dir, [a!, b!], `${opts.shared}:${port}`, 'shared-ip');
  return { dir, inventory, packages, release, appliances: [a!, b!] };
}

export function nameTestAppliance(t: TestAppliance, name: string): void {
  names.set(t, name);
}

/** An appliance of a deployment under test: named for the inventory, trusting `releasePub`. */
export async function startNamedAppliance(opts: {
  name: string;
  host: string;
  port?: number;
  interApplianceKey: string;
  releasePub: string;
}): Promise<TestAppliance> {
  const t = await startTestAppliance({
    name: opts.name,
    host: opts.host,
    port: opts.port,
    interApplianceKey: opts.interApplianceKey,
    releaseKeyFiles: [opts.releasePub],
  });
  nameTestAppliance(t, opts.name);
  return t;
}

/**
 * `gatehouse upgrade …` as a real process (never spawnSync: the test's own clients keep
 * running); `done` resolves with its exit code and output, `child` can be killed.
 */
export function runUpgrade(args: string[], onLine?: (line: string) => void) {
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'upgrade', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const take = (d: Buffer) => {
    out += d.toString();
    for (const line of d.toString().split('\n')) if (line) onLine?.(line);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const done = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, out })),
  );
  return { child, done };
}

/** Call an appliance's API; fail, with what it answered, unless it answers `status`. */
export async function callExpecting(
  t: TestAppliance,
  method: string,
  p: string,
  json: unknown,
  status: number,
): Promise<void> {
  const res = await t.api.call(method, p, { json });
  if (res.status !== status)
    throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** An appliance's /health: its version and role (a fresh client: it may have restarted). */
export async function healthOf(t: TestAppliance) {
  const c = t.proc.client();
  try {
    return (await c.call<{ productVersion: string; role: string }>('GET', '/health')).body;
  } finally {
    await c.close();
  }
}
