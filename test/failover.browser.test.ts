import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  establishPair,
  LOGIN_PASSWORD,
  startTestAppliance,
  type TestAppliance,
} from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

const KEY = 'failover-page-key-0123456789abcdefghijkl';

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

  const signIn = async (t: TestAppliance) => {
    await page.goto(`${t.proc.url}/login/sign-in`);
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
    page = await (await browser.context()).newPage();
    const est = await establishPair(a, b);
    expect(est.status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
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
});
