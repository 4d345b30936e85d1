import { afterAll, describe, expect, it } from 'vitest';
import { LOGIN_PASSWORD, startTestAppliance, until } from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

const KEY = 'cluster-page-key-0123456789abcdefghijklmn';
let browser: TestBrowser | undefined;
afterAll(async () => {
  await browser?.close();
});

describe('/login > Management > Cluster in a real browser', () => {
  it('adds a traffic node (refusing a wrong key beside its field), stops it accepting and syncs', async () => {
    const [primary, node] = await Promise.all([
      startTestAppliance({ name: 'page-primary', host: '127.0.0.130', interApplianceKey: KEY }),
      startTestAppliance({ name: 'page-node', host: '127.0.0.131', interApplianceKey: KEY }),
    ]);
    browser = await launchBrowser();
    const page = await (await browser.context()).newPage();
    await page.goto(`${primary.proc.url}/login/sign-in`);
    await page.fill('#f-username', 'admin');
    await page.fill('#f-password', LOGIN_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.pathname !== '/login/sign-in'),
      page.click('button[type=submit]'),
    ]);
    await page.click('nav a:has-text("Management > Cluster")');
    expect(await page.textContent('#cluster-empty')).toContain('no traffic nodes');

    const add = async (key: string) => {
      await page.fill('#f-host', node.proc.host);
      await page.fill('#f-port', String(node.proc.port));
      await page.fill('#f-region', 'east');
      await page.fill('#f-key', key);
      await Promise.all([
        page.waitForLoadState(),
        page.click('#add-node-form button[type=submit]'),
      ]);
    };
    await add('y'.repeat(40));
    expect(await page.textContent('#error-key')).toContain(
      "does not match this appliance's Inter-Appliance key",
    );
    expect(await page.inputValue('#f-host')).toBe(node.proc.host);

    await add(KEY);
    expect(await page.textContent('.notice')).toContain('Added traffic node page-node in east');
    const row = page.locator('tr[data-node="page-node"]');
    await until(
      async () => {
        await page.reload();
        return (await row.locator('.state').textContent())?.includes('serving');
      },
      10_000,
      'the node to be shown serving',
    );
    expect(await row.locator('.accepting').textContent()).toBe('yes');

    await Promise.all([
      page.waitForLoadState(),
      row.locator('button:has-text("Stop accepting")').click(),
    ]);
    expect(await page.textContent('.notice')).toContain('accepts no new clients');
    expect(await page.locator('tr[data-node="page-node"] .accepting').textContent()).toBe('no');
    const membership = await node.api.call<{ membership: { accepting: boolean } }>(
      'GET',
      '/api/login/cluster',
    );
    expect(membership.body.membership.accepting).toBe(false);

    await Promise.all([page.waitForLoadState(), page.click('button:has-text("Sync Now")')]);
    expect(await page.textContent('.notice')).toContain('Synced 1 traffic nodes');
  });
});
