import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/lab/processes.js';
import { writeApplianceSetting } from '../src/store/appliance-settings.js';
import { openDatabase } from '../src/store/db.js';
import { whoAnswers } from './support/probe.js';
import { startTestAppliance, tempDir, until } from './support/appliance.js';

const KEY = 'traffic-appliance-test-key-0123456789abcdef';
const SHARED = '127.0.0.51';

interface Problem {
  code: string;
  errors?: { field: string; message: string }[];
}

const probe = (port: number) => whoAnswers(SHARED, port);

describe('traffic switch from the appliance (S19)', () => {
  it('configures the hosts-file method through the API, naming bad settings, and points traffic here', async () => {
    const a = await startTestAppliance({ name: 'traffic-a', host: '127.0.0.73' });
    const hosts = path.join(tempDir(), 'hosts');
    const none = await a.api.call<Problem>('POST', '/api/appliance/traffic/point-here', {
      json: {},
    });
    expect(none.status).toBe(409);
    expect(none.body.code).toBe('TRAFFIC_NOT_CONFIGURED');

    const bad = await a.api.call<Problem>('PUT', '/api/appliance/traffic', {
      json: { provider: 'hosts-file', file: hosts, hostname: 'not a name' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.map((e) => e.field)).toEqual(['hostname']);
    const unknown = await a.api.call<Problem>('PUT', '/api/appliance/traffic', {
      json: { provider: 'carrier-pigeon' },
    });
    expect(unknown.body.errors?.[0]).toMatchObject({ field: 'provider' });
    expect(
      (await a.api.call<{ config: null }>('GET', '/api/appliance/traffic')).body.config,
    ).toBeNull();

    const set = await a.api.call<{ config: { provider: string }; description: string }>(
      'PUT',
      '/api/appliance/traffic',
      { json: { provider: 'hosts-file', file: hosts, hostname: 'site.gatehouse.test' } },
    );
    expect(set.status).toBe(200);
    expect(set.body.config.provider).toBe('hosts-file');
    expect(set.body.description).toContain(hosts);

    const pointed = await a.api.call<{ target: { address: string } }>(
      'POST',
      '/api/appliance/traffic/point-here',
      { json: {} },
    );
    expect(pointed.status).toBe(200);
    expect(pointed.body.target.address).toBe('127.0.0.73');
    expect(readFileSync(hosts, 'utf8')).toMatch(/^127\.0\.0\.73\s+site\.gatehouse\.test/m);
    const now = await a.api.call<{ current: { address: string } }>('GET', '/api/appliance/traffic');
    expect(now.body.current.address).toBe('127.0.0.73');

    const token = a.api.tokenFor('appliance')!;
    const page = await a.anon.call<string>('GET', '/appliance/networking/traffic', {
      headers: { accept: 'text/html', cookie: `__Host-gh-appliance=${token}` },
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain('id="traffic-form"');
    expect(page.body).toMatch(/id="traffic-target">\s*127\.0\.0\.73/);
  });

  it('starts with a stored traffic switch configuration that no longer parses, and says why', async () => {
    const a = await startTestAppliance({ name: 'traffic-c', host: '127.0.0.74' });
    const dbFile = path.join(a.dataDir, 'store', 'gatehouse.db');
    // As stored before the schema refused an IPv4 prefix over 32.
    const stored = { provider: 'shared-ip', address: '198.18.0.7', prefixLength: 33 };
    await a.restart(() => {
      const db = openDatabase(dbFile);
      try {
        writeApplianceSetting(db, 'traffic.switch', { ...stored, device: 'eth0', localName: 'c' });
      } finally {
        db.close();
      }
    });
    expect((await a.anon.call('GET', '/health')).status).toBe(200);
    const db = openDatabase(dbFile);
    try {
      const event = db
        .prepare(`SELECT outcome, details FROM events WHERE action = 'traffic.config-invalid'`)
        .get() as { outcome: string; details: string };
      expect(event.outcome).toBe('failed');
      expect(JSON.parse(event.details).reason).toMatch(/prefixLength: must be from 1 to 32/);
    } finally {
      db.close();
    }
  });

  it('moves the shared address with the primary role: Become Primary binds it, Become Backup releases it', async () => {
    const port = await freePort('127.0.0.71');
    const a = await startTestAppliance({
      name: 'role-a',
      host: '127.0.0.71',
      port,
      interApplianceKey: KEY,
    });
    const b = await startTestAppliance({
      name: 'role-b',
      host: '127.0.0.72',
      port,
      interApplianceKey: KEY,
    });
    for (const [t, enabled] of [
      [a, true],
      [b, false],
    ] as const)
      expect(
        (
          await t.api.call('POST', '/api/appliance/network/addresses', {
            json: { address: SHARED, kind: 'shared', enabled },
          })
        ).status,
      ).toBe(201);
    const established = await a.api.call('POST', '/api/login/failover/establish', {
      json: {
        backupHost: b.proc.host,
        backupPort: b.proc.port,
        reverseHost: a.proc.host,
        reversePort: a.proc.port,
      },
    });
    expect(established.status).toBe(201);
    await until(async () => (await probe(port)) === 'role-a', 5_000, 'A on the shared address');

    const toPrimary = await b.api.call('POST', '/api/login/failover/become-primary', { json: {} });
    expect(toPrimary.status).toBe(200);
    await until(async () => (await probe(port)) === 'role-b', 5_000, 'B on the shared address');
    const sharedOn = async (t: typeof a) =>
      (
        await t.api.call<{ addresses: { address: string; enabled: boolean }[] }>(
          'GET',
          '/api/appliance/network/addresses',
        )
      ).body.addresses.find((x) => x.address === SHARED)?.enabled;
    expect(await sharedOn(a)).toBe(false);
    expect(await sharedOn(b)).toBe(true);

    const toBackup = await b.api.call('POST', '/api/login/failover/become-backup', { json: {} });
    expect(toBackup.status).toBe(200);
    await until(
      async () => (await probe(port)) === 'role-a',
      5_000,
      'A on the shared address again',
    );
    expect(await sharedOn(a)).toBe(true);
    expect(await sharedOn(b)).toBe(false);
  });
});
