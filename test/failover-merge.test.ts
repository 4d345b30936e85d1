import { describe, expect, it } from 'vitest';
import { startTestAppliance, until, type TestAppliance } from './support/appliance.js';

const KEY = 'failover-merge-test-key-0123456789abcdef';

interface Event {
  id: string;
  appliance: string;
  action: string;
  target: string;
}
interface SyncResult {
  finishedAt: string;
  digest: string;
}

const establish = (primary: TestAppliance, backup: TestAppliance) =>
  primary.api.call('POST', '/api/login/failover/establish', {
    json: {
      backupHost: backup.proc.host,
      backupPort: backup.proc.port,
      reverseHost: primary.proc.host,
      reversePort: primary.proc.port,
      firstSyncAfterSeconds: 1,
    },
  });

const eventIds = async (t: TestAppliance, action: string) =>
  (
    await t.api.call<{ items: Event[] }>(
      'GET',
      `/api/login/logs?action=${encodeURIComponent(action)}&pageSize=200`,
    )
  ).body.items.map((e) => e.id);

const users = async (t: TestAppliance) =>
  (await t.api.call<{ users: { username: string }[] }>('GET', '/api/login/users')).body.users
    .map((u) => u.username)
    .sort();

const lastSyncOf = async (backup: TestAppliance) =>
  (await backup.api.call<{ lastSync: SyncResult | null }>('GET', '/api/login/failover')).body
    .lastSync;

describe('re-establishing a failover relationship merges history (S21)', () => {
  it('keeps what both appliances recorded while broken, on both; the backup takes the primary users', async () => {
    const [a, b] = await Promise.all([
      startTestAppliance({ name: 'merge-a', host: '127.0.0.61', interApplianceKey: KEY }),
      startTestAppliance({ name: 'merge-b', host: '127.0.0.62', interApplianceKey: KEY }),
    ]);
    expect((await establish(a, b)).status).toBe(201);
    expect((await a.api.call('POST', '/api/login/failover/sync')).status).toBe(200);
    expect((await a.api.call('POST', '/api/login/failover/break')).status).toBe(200);

    // While broken, each side records admin actions of its own in its event log.
    const onA = await a.api.call('POST', '/api/login/users', {
      json: { username: 'made.on.a', displayName: 'Made On A', password: 'Sturdy-Pass-101' },
    });
    expect(onA.status).toBe(201);
    const onB = await b.api.call('POST', '/api/login/users', {
      json: { username: 'made.on.b', displayName: 'Made On B', password: 'Sturdy-Pass-101' },
    });
    expect(onB.status).toBe(201);
    expect(
      (await b.api.call('PATCH', '/api/login/settings', { json: { siteName: 'B alone' } })).status,
    ).toBe(200);
    const [userEventsA, userEventsB, settingsEventsB] = await Promise.all([
      eventIds(a, 'user.created'),
      eventIds(b, 'user.created'),
      eventIds(b, 'settings.updated'),
    ]);
    expect(userEventsA.some((id) => userEventsB.includes(id))).toBe(true); // synced before
    expect(settingsEventsB.length).toBeGreaterThan(0);

    const before = Date.now();
    expect((await establish(a, b)).status).toBe(201);
    // The primary took the backup's history before the backup joined.
    const settingsOnA = await eventIds(a, 'settings.updated');
    expect(settingsEventsB.every((id) => settingsOnA.includes(id))).toBe(true);
    for (const id of userEventsB) expect(await eventIds(a, 'user.created')).toContain(id);

    // The first sync (about a second after establishing) brings the primary's to the backup.
    await until(
      async () => Date.parse((await lastSyncOf(b))?.finishedAt ?? '0') > before,
      15_000,
      'the first sync after re-establishing',
    );
    const [allA, allB] = await Promise.all([
      eventIds(a, 'user.created'),
      eventIds(b, 'user.created'),
    ]);
    for (const id of [...userEventsA, ...userEventsB]) {
      expect(allA).toContain(id);
      expect(allB).toContain(id);
    }
    const settingsOnB = await eventIds(b, 'settings.updated');
    expect(settingsEventsB.every((id) => settingsOnB.includes(id))).toBe(true);

    // Users are not history: the backup's become exactly the primary's.
    expect(await users(b)).toEqual(await users(a));
    expect(await users(b)).toContain('made.on.a');
    expect(await users(b)).not.toContain('made.on.b');
    // Real appliances: 21 s alone at load 10, up to 3× that on a loaded CI machine.
  }, 120_000);
});
