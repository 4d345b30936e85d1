import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  LOGIN_PASSWORD,
  startTestAppliance,
  tempDir,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import {
  buildTestPackage,
  makeReleaseKey,
  uploadPackage,
  type UpdatesStatus,
} from './support/updates.js';

const KEY = 'cluster-page-key-0123456789abcdefghijklmn';
let browser: TestBrowser | undefined;
afterAll(async () => {
  await browser?.close();
});

describe('/login > Management > Cluster in a real browser', () => {
  let primary: TestAppliance;
  let node: TestAppliance;
  let release: { keyFile: string; pubFile: string };
  let dir: string;

  it('adds a traffic node (refusing a wrong key beside its field), stops it accepting and syncs', async () => {
    dir = tempDir('gh-cluster-web-');
    release = makeReleaseKey(dir);
    const start = (name: string, host: string) =>
      startTestAppliance({
        name,
        host,
        interApplianceKey: KEY,
        releaseKeyFiles: [release.pubFile],
      });
    [primary, node] = await Promise.all([
      start('page-primary', '127.0.0.130'),
      start('page-node', '127.0.0.131'),
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

  it('offers Distribute to Cluster on the primary node only (S30); the button stages the package on every traffic node without installing it', async () => {
    const version = '9.8.7';
    const pkg = await buildTestPackage({
      kind: 'product',
      version,
      keyFile: release.keyFile,
      out: path.join(dir, `product-${version}.ghpkg`),
    });
    for (const t of [primary, node]) {
      const up = await uploadPackage(t.api, pkg);
      expect(up.status, JSON.stringify(up.body)).toBe(201);
    }
    // The node's copy goes: the button must bring it back.
    const staged = async (t: TestAppliance) =>
      (await t.api.call<UpdatesStatus>('GET', '/api/appliance/updates')).body;
    const nodeCopy = (await staged(node)).staged.find((p) => p.version === version)!;
    expect(
      (await node.api.call('DELETE', `/api/appliance/updates/staged/${nodeCopy.id}`)).status,
    ).toBe(204);

    const page = await (await browser!.context()).newPage();
    const signIn = async (t: TestAppliance) => {
      await page.goto(`${t.proc.url}/appliance/updates`);
      await page.fill('#f-username', 'admin');
      await page.fill('#f-password', ADMIN_PASSWORD);
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/appliance/updates'),
        page.click('button[type=submit]'),
      ]);
    };
    // A traffic node is a cluster member but distributes to nobody: no button.
    await signIn(node);
    expect(await page.locator('button:has-text("Distribute to Cluster")').count()).toBe(0);
    await signIn(primary);
    const row = page.locator(`#staged tr[data-version="${version}"]`);
    const button = row.locator('button:has-text("Distribute to Cluster")');
    expect(await button.count()).toBe(1);
    await Promise.all([page.waitForLoadState(), button.click()]);
    expect(await page.textContent('.notice')).toContain(
      `Distributed product ${version} to 1 traffic nodes`,
    );
    const onNode = await staged(node);
    expect(onNode.staged.map((p) => p.version)).toContain(version);
    expect(onNode.installed.product).not.toBe(version);
    expect((await staged(primary)).installed.product).not.toBe(version);
  });
});
