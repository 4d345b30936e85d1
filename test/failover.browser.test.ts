import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  establishPair,
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

const KEY = 'failover-page-key-0123456789abcdefghijkl';
const SHARED = '127.0.0.142';

interface FailoverView {
  role: string;
  relationship: { sync: { intervalMs: number }; self: { address: { host: string } } } | null;
}
const failoverOf = async (t: TestAppliance) =>
  (await t.api.call<FailoverView>('GET', '/api/login/failover')).body;

describe('/login > Management > Failover in a real browser', () => {
  let a: TestAppliance;
  let b: TestAppliance;
  let browser: TestBrowser;
  let page: Page;

  /** Sign in with a fresh context (own cookies), as a new visitor of that address. */
  const signIn = async (t: TestAppliance, host = t.proc.host) => {
    await page?.context().close();
    page = await (await browser.context()).newPage();
    await page.goto(`https://${host}:${t.proc.port}/login/sign-in`);
    await page.fill('#f-username', 'admin');
    await page.fill('#f-password', LOGIN_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.pathname !== '/login/sign-in'),
      page.click('button[type=submit]'),
    ]);
  };
  const submit = (form: string) =>
    Promise.all([page.waitForLoadState(), page.click(`${form} button[type=submit]`)]);

  beforeAll(async () => {
    [a, b, browser] = await Promise.all([
      startTestAppliance({ name: 'fp-a', host: '127.0.0.140', interApplianceKey: KEY }),
      startTestAppliance({ name: 'fp-b', host: '127.0.0.141', interApplianceKey: KEY }),
      launchBrowser(),
    ]);
    const shared = await a.api.call('POST', '/api/appliance/network/addresses', {
      json: { address: SHARED, kind: 'shared', enabled: true },
    });
    expect(shared.status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('establishes with the reverse details defaulting to the unique address, refusing an address that moves (S14)', async () => {
    // Opened through the shared address, the page still offers the appliance's own address.
    await signIn(a, SHARED);
    await page.goto(`https://${SHARED}:${a.proc.port}/login/failover`);
    expect(await page.inputValue('#f-reverseHost')).toBe(a.proc.host);
    expect(await page.inputValue('#f-reversePort')).toBe(String(a.proc.port));
    expect(await page.textContent('#establish')).toContain('unique address of each appliance');

    await page.fill('#f-backupHost', b.proc.host);
    await page.fill('#f-backupPort', String(b.proc.port));
    await page.fill('#f-reverseHost', SHARED);
    await page.fill('#f-firstSyncAfterSeconds', '1');
    await submit('#establish-form');
    expect(await page.textContent('#error-reverseHost')).toMatch(
      /127\.0\.0\.142 is a shared address.*moves to whichever appliance is primary/,
    );
    expect((await failoverOf(a)).role).toBe('standalone');
    expect((await failoverOf(b)).role).toBe('standalone');

    // The site hostname is refused too, over the API, naming the field.
    const byName = await establishPair(a, b, { backupHost: 'site.gatehouse.test' });
    expect(byName.status).toBe(400);
    expect(byName.body).toMatchObject({
      code: 'FAILOVER_ADDRESS_MOVES',
      errors: [{ field: 'backupHost' }],
    });
    expect(JSON.stringify(byName.body)).toContain('site hostname');

    await page.fill('#f-reverseHost', a.proc.host);
    await submit('#establish-form');
    expect(await page.textContent('.notice')).toContain('"fp-b" is now the backup');
    expect((await failoverOf(b)).relationship!.self.address.host).toBe(b.proc.host);
    expect((await failoverOf(a)).relationship!.self.address.host).toBe(a.proc.host);
  });

  it('changes the sync interval of an established pair on both appliances (S15), refusing a bad value beside its field', async () => {
    await signIn(a);
    await page.goto(`${a.proc.url}/login/failover`);
    expect(await page.inputValue('#f-syncIntervalSeconds')).toBe('300');

    await page.fill('#f-syncIntervalSeconds', '2');
    await submit('#sync-interval-form');
    expect(await page.textContent('#error-syncIntervalSeconds')).toContain('must be 5 or more');
    expect((await failoverOf(a)).relationship!.sync.intervalMs).toBe(300_000);

    await page.fill('#f-syncIntervalSeconds', '120');
    await submit('#sync-interval-form');
    expect(await page.textContent('.notice')).toContain('every 120 s');
    expect(await page.inputValue('#f-syncIntervalSeconds')).toBe('120');
    for (const t of [a, b])
      expect((await failoverOf(t)).relationship!.sync.intervalMs).toBe(120_000);
  });

  it('shows on the backup only the sections that belong to it (S15): its logs, security, failover and status', async () => {
    const navOf = async () =>
      page.$$eval('nav.side a', (links) => links.map((l) => l.getAttribute('href')));
    await signIn(a);
    const all = await navOf();
    await signIn(b);
    expect(await navOf()).toEqual([
      '/login/logs',
      '/login/management/security',
      '/login/failover',
      '/login/status/information',
    ]);
    expect(all.length).toBeGreaterThan(4);
    const note = (await page.textContent('#nav-backup-note'))!.replace(/\s+/g, ' ');
    expect(note).toContain(
      'Users, Configuration, File Store, Jump Clients, Management > Cluster and Management > Syslog are hidden',
    );
    expect(note).toContain('backup of "fp-a"');

    // A hidden section's address leads to the Failover page, saying why.
    for (const hidden of [
      '/login/jump-clients',
      '/login/management/cluster',
      '/login/management/syslog',
    ]) {
      await page.goto(`${b.proc.url}${hidden}`);
      expect(new URL(page.url()).pathname).toBe('/login/failover');
      expect(await page.textContent('.notice')).toContain('backup of "fp-a"');
    }
  });

  it('with Enable Backup Operations off, the backup neither syncs nor takes over (S25)', async () => {
    const usersOf = async (t: TestAppliance) =>
      (
        await t.api.call<{ users: { username: string }[] }>('GET', '/api/login/users')
      ).body.users.map((u) => u.username);
    const interval = await a.api.call('PUT', '/api/login/failover/sync-interval', {
      json: { syncIntervalSeconds: 5 },
    });
    expect(interval.status).toBe(200);
    await signIn(b);
    await page.goto(`${b.proc.url}/login/failover`);
    await page.uncheck('#backup-operations-form input[name=enabled]');
    await submit('#backup-operations-form');
    expect(await page.textContent('.notice')).toContain('Backup operations disabled');

    const created = await a.api.call('POST', '/api/login/users', {
      json: { username: 's25.user', displayName: 'S25 User', password: 'Sturdy-Pass-2525' },
    });
    expect(created.status).toBe(201);
    // Two sync intervals and more pass without the backup copying the change.
    const watchUntil = Date.now() + 11_000;
    await until(
      async () => {
        expect(await usersOf(b)).not.toContain('s25.user');
        return Date.now() > watchUntil;
      },
      20_000,
      'two sync intervals to pass',
    );
    // Enabled again, the next periodic sync copies it: the change was waiting for the toggle.
    await page.check('#backup-operations-form input[name=enabled]');
    await submit('#backup-operations-form');
    await until(async () => (await usersOf(b)).includes('s25.user'), 15_000, 'the periodic sync');

    // Disabled, a backup whose primary is gone does not take over, and says why.
    await page.uncheck('#backup-operations-form input[name=enabled]');
    await submit('#backup-operations-form');
    const auto = await b.api.call('PUT', '/api/login/failover/automatic', {
      json: {
        enabled: true,
        unreachableForSeconds: 1,
        checkAddresses: [{ host: b.proc.host, port: b.proc.port }],
      },
    });
    expect(auto.status).toBe(200);
    await a.proc.stop();
    await until(
      async () =>
        (
          await b.api.call<{ items: { details: { reason: string } }[] }>(
            'GET',
            '/api/login/logs?action=failover.automatic-takeover-withheld',
          )
        ).body.items.some((e) => e.details.reason.includes('backup operations are disabled')),
      20_000,
      'the takeover withheld',
    );
    expect((await failoverOf(b)).role).toBe('backup');
    // Waits on a sync and a takeover withheld: 17 s alone at load 7, up to 3× that on CI.
  }, 120_000);
});
