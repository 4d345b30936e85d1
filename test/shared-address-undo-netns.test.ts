import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepNamespaces } from '../src/lab/netns.js';
import { GATEHOUSE_BIN, initApplianceProcess } from '../src/lab/processes.js';
import { CODE_ROOT } from '../src/shared/version.js';
import { ADMIN_PASSWORD, LOGIN_PASSWORD, tempDir, until } from './support/appliance.js';

const execFileP = promisify(execFile);

/**
 * A shared address that cannot be taken is given up (b6901c7): not only disabled in the
 * configuration, but off the interface and its listener closed. One real appliance in a
 * network namespace of the test's own (198.18.0.0/15, a veth pair inside it; root, as CI),
 * driven by a client in the same namespace: the host's interfaces are never touched.
 */
/** Named after the test process that owns it, so a later run knows when the owner was killed. */
const ns = `gh-${randomBytes(3).toString('hex')}-undo${process.pid}`;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};
/** Namespaces of runs whose worker was killed (no afterAll): removed with what runs inside. */
async function sweepKilledRuns() {
  const { stdout } = await execFileP('ip', ['netns', 'list']);
  for (const name of stdout.split('\n').map((l) => l.split(' ')[0]!)) {
    const owner = /^(gh-[0-9a-f]{6}-)undo(\d+)$/.exec(name);
    if (owner && !alive(Number(owner[2]))) await sweepNamespaces(owner[1]!);
  }
}
const OWN = '198.18.201.11';
const SHARED = '198.18.201.77';
const ip = (...args: string[]) => execFileP('ip', ['-n', ns, ...args]);
const inNs = (argv: string[]) =>
  execFileP('ip', ['netns', 'exec', ns, ...argv]).then(
    () => true,
    () => false,
  );
const onEth0 = async () => (await ip('-o', 'addr', 'show', 'dev', 'eth0')).stdout;
/** Whether a TCP connection to the shared address's port 443 opens, from inside the namespace. */
const answers = () =>
  inNs([
    process.execPath,
    '-e',
    `const s = require('node:net').connect(443, '${SHARED}', () => process.exit(0));
     s.on('error', () => process.exit(3));`,
  ]);

/** Signs in to /appliance, then makes each call read from stdin (a JSON line) and prints its answer. */
const DRIVER = `
const [clientJs, url, certFile, password] = process.argv.slice(1);
(async () => {
  const { ApplianceClient } = await import(clientJs);
  const api = new ApplianceClient(url, { certPem: require('node:fs').readFileSync(certFile, 'utf8') });
  for (;;) {
    const ok = await api.call('GET', '/health').then((r) => r.status === 200, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await api.signIn('appliance', 'admin', password);
  console.log('{"ready":true}');
  require('node:readline').createInterface({ input: process.stdin }).on('line', async (l) => {
    const { method, path, json } = JSON.parse(l);
    const r = await api.call(method, path, json === undefined ? {} : { json });
    console.log(JSON.stringify({ status: r.status, body: r.body }));
  });
})();`;

describe('a shared address that cannot be taken is given up (real interface, netns)', () => {
  const children: ChildProcess[] = [];
  let answersOut: ((l: Record<string, unknown>) => void)[] = [];
  let driver: ChildProcess;
  const call = (method: string, p: string, json?: unknown) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve) => {
      answersOut.push(resolve as (l: Record<string, unknown>) => void);
      driver.stdin!.write(`${JSON.stringify({ method, path: p, json })}\n`);
    });
  const enabled = async () =>
    (
      (await call('GET', '/api/appliance/network/addresses')).body.addresses as {
        address: string;
        enabled: boolean;
      }[]
    ).find((a) => a.address === SHARED)?.enabled;

  beforeAll(async () => {
    await sweepKilledRuns();
    await execFileP('ip', ['netns', 'add', ns]);
    await ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0');
    for (const dev of ['lo', 'eth0', 'peer0']) await ip('link', 'set', dev, 'up');
    await ip('addr', 'add', `${OWN}/24`, 'dev', 'eth0');
    const dataDir = path.join(tempDir(), 'data');
    await initApplianceProcess({
      dataDir,
      name: 'undo',
      host: OWN,
      adminPassword: ADMIN_PASSWORD,
      loginPassword: LOGIN_PASSWORD,
    });
    const nsRun = (argv: string[]) => {
      const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'ignore'] });
      children.push(c);
      return c;
    };
    nsRun(
      [process.execPath, GATEHOUSE_BIN, 'appliance', 'run', '--data-dir', dataDir].concat([
        '--listen',
        `${OWN}:443`,
        '--log-level',
        'warn',
      ]),
    );
    const clientJs = path.join(CODE_ROOT, 'dist', 'src', 'clients', 'admin-client.js');
    const cert = path.join(dataDir, 'tls', 'cert.pem');
    driver = nsRun(
      [process.execPath, '-e', DRIVER, clientJs, `https://${OWN}:443`, cert].concat([
        ADMIN_PASSWORD,
      ]),
    );
    let ready = false;
    createInterface({ input: driver.stdout! }).on('line', (l) => {
      const v = JSON.parse(l) as Record<string, unknown>;
      if (v.ready) ready = true;
      else answersOut.shift()?.(v);
    });
    await until(() => ready, 60_000, 'the appliance in the namespace to answer its client');
  }, 90_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    answersOut = [];
    // Deleting the namespace takes the veth pair and every address with it.
    await execFileP('ip', ['netns', 'delete', ns]).catch(() => undefined);
  });

  it('refuses the take, disables the address and takes it off eth0; takes it once free', async () => {
    const traffic = { provider: 'shared-ip', address: SHARED, device: 'eth0', localName: 'undo' };
    expect((await call('PUT', '/api/appliance/traffic', traffic)).status).toBe(200);
    const added = await call('POST', '/api/appliance/network/addresses', {
      address: SHARED,
      kind: 'shared',
      enabled: false,
    });
    expect(added.status).toBe(201);

    // Another process holds SHARED:443 (the address put there by hand): the bind fails.
    await ip('addr', 'add', `${SHARED}/32`, 'dev', 'eth0');
    const blocker = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '-e',
        `require('node:net').createServer().listen(443, '${SHARED}', () => console.log('bound'))`,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    children.push(blocker);
    await new Promise((r) => blocker.stdout!.once('data', r));
    const refused = await call('PATCH', `/api/appliance/network/addresses/${SHARED}`, {
      enabled: true,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('SHARED_ADDRESS_UNAVAILABLE');
    expect(String(refused.body.detail)).toMatch(/still held by another process/);
    expect(await enabled()).toBe(false);
    expect(await onEth0()).not.toContain(SHARED);

    // Free again: the take succeeds, the address is on eth0 and the appliance answers on it.
    blocker.kill('SIGKILL');
    await until(
      async () =>
        (await call('PATCH', `/api/appliance/network/addresses/${SHARED}`, { enabled: true }))
          .status === 200,
      10_000,
      'the take to succeed once the address is free',
    );
    expect(await onEth0()).toContain(`${SHARED}/32`);
    expect(await answers()).toBe(true);

    // ip refuses (no such device): refused, disabled, and nothing left bound.
    expect(
      (await call('PATCH', `/api/appliance/network/addresses/${SHARED}`, { enabled: false }))
        .status,
    ).toBe(200);
    expect(await onEth0()).not.toContain(SHARED);
    await call('PUT', '/api/appliance/traffic', { ...traffic, device: 'ghnone0' });
    const noDevice = await call('PATCH', `/api/appliance/network/addresses/${SHARED}`, {
      enabled: true,
    });
    expect(noDevice.status).toBe(409);
    expect(String(noDevice.body.detail)).toMatch(/ghnone0/);
    expect(await enabled()).toBe(false);
  }, 60_000);
});
