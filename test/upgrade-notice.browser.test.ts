import { afterAll, describe, expect, it } from 'vitest';
import { LOGIN_PASSWORD, startTestAppliance } from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

let browser: TestBrowser | undefined;
afterAll(async () => browser?.close());

describe('/login on the old primary during an upgrade (S23), in a browser', () => {
  it('shows the banner, and a change is made only once its box is ticked', async () => {
    const t = await startTestAppliance({ name: 'notice-web' });
    const marked = await t.api.call('PUT', '/api/appliance/upgrade-in-progress', {
      json: { by: 'gatehouse upgrade', note: 'asynchronous upgrade; notice-b becomes primary' },
    });
    expect(marked.status).toBe(200);
    browser = await launchBrowser();
    const page = await (await browser.context()).newPage();
    await page.goto(`${t.proc.url}/login/sign-in`);
    await page.fill('#f-username', 'admin');
    await page.fill('#f-password', LOGIN_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.pathname !== '/login/sign-in'),
      page.click('button[type=submit]'),
    ]);

    await page.goto(`${t.proc.url}/login/configuration`);
    const banner = page.locator('#upgrade-banner');
    await expect.poll(() => banner.isVisible(), { timeout: 10_000 }).toBe(true);
    const text = await banner.innerText();
    expect(text).toContain('Do not make changes on this appliance');
    expect(text).toContain('overwritten by the first sync after the upgrade');
    expect(text).toContain('notice-b becomes primary');

    // The form gained a box it cannot be sent without.
    const box = page.locator('#settings .confirm-overwrite-box');
    await expect.poll(() => box.count(), { timeout: 10_000 }).toBe(1);
    expect(
      await page.locator('#settings').evaluate((f) => (f as HTMLFormElement).checkValidity()),
    ).toBe(false);
    await page.fill('#f-siteName', 'Renamed knowingly');
    await box.check();
    await Promise.all([page.waitForLoadState('load'), page.click('#settings button[type=submit]')]);
    await expect
      .poll(
        async () =>
          (await t.api.call<{ siteName: string }>('GET', '/api/login/settings')).body.siteName,
        { timeout: 10_000 },
      )
      .toBe('Renamed knowingly');

    // Once the upgrade is over, no banner and no box.
    await t.api.call('DELETE', '/api/appliance/upgrade-in-progress');
    await page.goto(`${t.proc.url}/login/configuration`);
    expect(await page.locator('#upgrade-banner').count()).toBe(0);
    expect(await page.locator('.confirm-overwrite-box').count()).toBe(0);
  }, 90_000);
});
