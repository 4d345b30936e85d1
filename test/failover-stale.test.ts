import { describe, expect, it } from 'vitest';
import {
  establishPair,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';

const KEY = 'failover-stale-key-0123456789abcdefghijk';

interface FailoverView {
  role: string;
  lastSync: { finishedAt: string } | null;
  stale: string | null;
}
const failoverOf = async (t: TestAppliance) =>
  (await t.api.call<FailoverView>('GET', '/api/login/failover')).body;

describe('a stale backup is not promoted (maximum sync age, as Patroni maximum_lag_on_failover)', () => {
  it('refuses Become Primary without force and withholds automatic takeover once the last sync is too old', async () => {
    const [a, b] = await Promise.all([
      startTestAppliance({ name: 'st-a', host: '127.0.0.160', interApplianceKey: KEY }),
      startTestAppliance({ name: 'st-b', host: '127.0.0.161', interApplianceKey: KEY }),
    ]);
    expect((await establishPair(a, b)).status).toBe(201);
    expect((await a.api.call('POST', '/api/login/failover/sync')).status).toBe(200);
    const automatic = (enabled: boolean) =>
      b.api.call('PUT', '/api/login/failover/automatic', {
        json: {
          enabled,
          unreachableForSeconds: 1,
          checkAddresses: [{ host: b.proc.host, port: b.proc.port }],
          maximumSyncAgeSeconds: 5,
        },
      });
    expect((await automatic(false)).status).toBe(200);
    expect((await failoverOf(b)).stale).toBeNull();
    // No periodic sync from here on: the last sync ages past the maximum.
    await b.api.call('PUT', '/api/login/failover/backup-operations', { json: { enabled: false } });
    await until(async () => (await failoverOf(b)).stale !== null, 20_000, 'the backup to be stale');
    expect((await failoverOf(b)).stale).toMatch(/longer ago than the maximum sync age of 5 s/);

    const refused = await b.api.call('POST', '/api/login/failover/become-primary', { json: {} });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'FAILOVER_BACKUP_STALE' });
    expect((await failoverOf(b)).role).toBe('backup');
    const page = await b.anon.call<string>('GET', '/login/failover', {
      headers: { accept: 'text/html', cookie: `__Host-gh-login=${b.api.tokenFor('login')!}` },
    });
    expect(page.body).toMatch(/id="failover-stale"/);
    expect(page.body).toMatch(/, \d+ s ago/);

    // The primary goes away: a stale backup withholds the takeover and says why.
    await a.proc.stop();
    await b.api.call('PUT', '/api/login/failover/backup-operations', { json: { enabled: true } });
    expect((await automatic(true)).status).toBe(200);
    await until(
      async () =>
        (
          await b.api.call<{ items: { details: { reason: string } }[] }>(
            'GET',
            '/api/login/logs?action=failover.automatic-takeover-withheld',
          )
        ).body.items.some((e) => e.details.reason.includes('would roll the site back')),
      20_000,
      'the takeover withheld',
    );
    expect((await failoverOf(b)).role).toBe('backup');

    const forced = await b.api.call('POST', '/api/login/failover/become-primary', {
      json: { force: true },
    });
    expect(forced.status).toBe(200);
    expect((await failoverOf(b)).role).toBe('primary');
    // Real appliances: 19 s alone at load 10, up to 3× that on a loaded CI machine.
  }, 120_000);
});
