import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, GATEHOUSE_BIN } from '../src/lab/processes.js';
import {
  establishPair,
  startTestAppliance,
  tempDir,
  until,
  type TestAppliance,
} from './support/appliance.js';

const KEY = 'failover-witness-key-0123456789abcdef012345';

interface Problem {
  code: string;
  detail: string;
  errors?: { field: string; message: string }[];
}
interface Event {
  action: string;
  ts: number;
  details: Record<string, unknown>;
}

let a: TestAppliance;
let b: TestAppliance;
let witness: { child: ChildProcess; host: string; port: number; fingerprint: string };
let dir: string;
const spawned: ChildProcess[] = [];

/** `gatehouse witness` as a real process; resolves once it printed its fingerprint. */
async function startWitness(port?: number) {
  const host = '127.0.0.47';
  const at = port ?? (await freePort(host));
  const child = spawn(
    process.execPath,
    [
      GATEHOUSE_BIN,
      'witness',
      '--listen',
      `${host}:${at}`,
      '--data-dir',
      path.join(dir, 'witness'),
      '--key-file',
      path.join(dir, 'key'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Killed after the file even when it never printed its fingerprint (a start timed out).
  spawned.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => /fingerprint: (\S+)/.test(out), 60_000, `the witness to start: ${out}`);
  return { child, host, port: at, fingerprint: /fingerprint: (\S+)/.exec(out)![1]! };
}

const health = async (t: TestAppliance) =>
  (await t.anon.call<{ role: string }>('GET', '/health')).body.role;
const events = async (t: TestAppliance, action: string) =>
  (
    await t.api.call<{ items: Event[] }>(
      'GET',
      `/api/login/logs?action=${encodeURIComponent(action)}`,
    )
  ).body.items;
const addUser = (t: TestAppliance, username: string) =>
  t.api.call<Problem>('POST', '/api/login/users', {
    json: { username, displayName: username, password: 'Long-Enough-Pw-1' },
  });
const hasUser = async (t: TestAppliance, username: string) =>
  (await t.api.call<{ users: { username: string }[] }>('GET', '/api/login/users')).body.users.some(
    (u) => u.username === username,
  );
const automatic = (t: TestAppliance, w = witness) =>
  t.api.call<Problem>('PUT', '/api/login/failover/automatic', {
    json: {
      enabled: true,
      unreachableForSeconds: 1,
      checkAddresses: [],
      witness: { host: w.host, port: w.port, fingerprint: w.fingerprint, leaseSeconds: 1 },
    },
  });

beforeAll(async () => {
  dir = tempDir('gh-witness-');
  writeFileSync(path.join(dir, 'key'), `${KEY}\n`, { mode: 0o600 });
  [a, b, witness] = await Promise.all([
    startTestAppliance({ name: 'wit-a', host: '127.0.0.45', interApplianceKey: KEY }),
    startTestAppliance({ name: 'wit-b', host: '127.0.0.46', interApplianceKey: KEY }),
    startWitness(),
  ]);
  expect((await establishPair(a, b)).status).toBe(201);
}, 120_000);

afterAll(() => {
  for (const child of spawned) child.kill('SIGKILL');
  for (const t of [a, b])
    try {
      process.kill(-t.proc.child.pid!, 'SIGCONT');
    } catch {
      // Stopped already.
    }
});

describe('automatic failover with a witness (the tie-breaker of a pair)', () => {
  it('refuses a witness without a valid fingerprint, naming the field, and changes nothing', async () => {
    const bad = await a.api.call<Problem>('PUT', '/api/login/failover/automatic', {
      json: {
        enabled: true,
        unreachableForSeconds: 1,
        checkAddresses: [],
        witness: { host: witness.host, port: witness.port, fingerprint: 'AB:CD' },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.map((e) => e.field)).toEqual(['witness.fingerprint']);
    const now = await a.api.call<{ enabled: boolean }>('GET', '/api/login/failover');
    expect(JSON.stringify(now.body)).not.toContain('"witness":{');
  });

  it('acknowledges a change on the primary only once the backup has it', async () => {
    expect((await automatic(a)).status).toBe(200);
    expect((await automatic(b)).status).toBe(200);
    await until(async () => (await addUser(a, 'before-faults')).status === 201, 20_000, 'a write');
    // No sync interval passed: the acknowledgement waited for the backup's pull.
    expect(await hasUser(b, 'before-faults')).toBe(true);
  });

  it('shows the witness on the Failover page: answering, the lease holder, the last contact', async () => {
    const status = await b.api.call<{ witness: Record<string, unknown> }>(
      'GET',
      '/api/login/failover',
    );
    expect(status.body.witness).toMatchObject({
      address: `${witness.host}:${witness.port}`,
      reachable: true,
      holder: 'wit-a',
      holdsLease: false,
    });
    expect(Date.now() - Date.parse(String(status.body.witness.lastContactAt))).toBeLessThan(10_000);
    const page = await a.anon.call<string>('GET', '/login/failover', {
      headers: { accept: 'text/html', cookie: `__Host-gh-login=${a.api.tokenFor('login')!}` },
    });
    expect(page.body).toMatch(/id="failover-witness-lease">lease held by wit-a at generation \d+/);
    expect(page.body).toMatch(/last answered \S+, \d+ s ago/);
  });

  it('a backup that has not pulled what the primary acknowledged alone does not take over; once it has, it may', async () => {
    const freeze = (t: TestAppliance) => process.kill(-t.proc.child.pid!, 'SIGSTOP');
    const thaw = (t: TestAppliance) => process.kill(-t.proc.child.pid!, 'SIGCONT');
    let acked = '';
    let tries = 0;
    freeze(b);
    try {
      // The backup is cut off: the primary acknowledges alone, once the witness kept the change.
      // Until the primary sees the backup gone, a change waits for it and is not acknowledged
      // (it stays made: each try is a new user).
      let last = '';
      await until(
        async () => {
          acked = `acked-alone-${++tries}`;
          const r = await addUser(a, acked);
          last = JSON.stringify(r.body);
          return r.status === 201;
        },
        20_000,
        'a write',
      ).catch((e: Error) => {
        throw new Error(`${e.message}: ${last}`);
      });
      freeze(a);
      thaw(b);
      await until(
        async () =>
          (await events(b, 'failover.automatic-takeover-withheld')).some((e) =>
            /acknowledged changes up to its change \d+ while its backup was cut off/.test(
              String(e.details.reason),
            ),
          ),
        30_000,
        'the witness to refuse the backup that lacks the change',
      );
      expect(await health(b)).toBe('backup');
      expect(await events(b, 'failover.automatic-takeover')).toEqual([]);
    } finally {
      thaw(a);
      thaw(b);
    }
    // The primary returns, serves on, and has the backup pull what it acknowledged alone.
    await until(() => hasUser(b, acked), 30_000, 'the backup to catch up');
    expect(await health(a)).toBe('primary');
  }, 90_000);

  it('a frozen primary loses its lease; the backup takes over with the witness; the thawed one accepts nothing and steps down', async () => {
    const frozenAt = Date.now();
    process.kill(-a.proc.child.pid!, 'SIGSTOP');
    try {
      await until(async () => (await health(b)) === 'primary', 30_000, 'the takeover');
    } finally {
      process.kill(-a.proc.child.pid!, 'SIGCONT');
    }
    const takeover = (await events(b, 'failover.automatic-takeover'))[0]!;
    expect(takeover.details.reason).toMatch(/witness granted this backup the lease/);
    // Not before the frozen primary's lease (1 s) ran out. It runs from its last renewal, up to
    // a renewal period (a quarter lease) before the freeze, and the takeover is now tried the
    // moment it runs out: 969 ms after the freeze was seen.
    expect(takeover.ts - frozenAt).toBeGreaterThanOrEqual(750);
    await until(async () => (await health(a)) === 'backup', 20_000, 'the old primary to step down');
    // Its fence began when its lease ran out: before the takeover.
    const fenced = (await events(a, 'failover.fenced'))[0];
    if (fenced) expect(Date.parse(String(fenced.details.since))).toBeLessThan(takeover.ts);
    expect((await addUser(a, 'on-the-old-primary')).body.code).toBe('FAILOVER_BACKUP_READ_ONLY');
    expect((await addUser(b, 'after-takeover')).status).toBe(201);
    // The new primary acknowledges alone until it counts the old one as its backup again (the
    // witness keeps the change meanwhile): the old primary then pulls it. Checked at once, this
    // failed in 2 of 3 runs side by side, with the takeover fast enough to come first.
    await until(() => hasUser(a, 'after-takeover'), 30_000, 'the old primary to pull the change');
  }, 90_000);

  it('with only the witness down the primary serves on the backup’s promise; the backup alone does not take over', async () => {
    witness.child.kill('SIGKILL');
    const started = Date.now();
    // Longer than a lease: the primary's witness lease has run out, the promise carries it.
    await until(() => Date.now() - started > 2_500, 5_000, 'a lease length to pass');
    expect((await addUser(b, 'witness-down')).status).toBe(201);
    await b.proc.kill();
    await until(
      async () =>
        (await events(a, 'failover.automatic-takeover-withheld')).some((e) =>
          /witness does not answer/.test(String(e.details.reason)),
        ),
      30_000,
      'the takeover to be withheld',
    );
    expect(await health(a)).toBe('backup');
  }, 90_000);
});
