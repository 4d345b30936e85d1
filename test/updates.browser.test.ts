import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import { INSTALLER_MARKER } from '../src/updates/jump-client-installer.js';
import {
  ADMIN_PASSWORD,
  startTestAppliance,
  tempDir,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import {
  buildTestPackage,
  makeReleaseKey,
  waitForSoftware,
  type UpdatesStatus,
} from './support/updates.js';

let t: TestAppliance;
let browser: TestBrowser | undefined;
let ctx: BrowserContext;
let page: Page;
let product110: string;
let tampered: string;

beforeAll(async () => {
  const dir = tempDir('gh-updates-web-');
  const release = makeReleaseKey(dir);
  product110 = await buildTestPackage({
    kind: 'product',
    version: '1.1.0',
    keyFile: release.keyFile,
    out: path.join(dir, 'product-1.1.0.ghpkg'),
  });
  tampered = path.join(dir, 'tampered.ghpkg');
  copyFileSync(product110, tampered);
  const bytes = readFileSync(tampered);
  bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
  writeFileSync(tampered, bytes);
  t = await startTestAppliance({ name: 'updates-web', releaseKeyFiles: [release.pubFile] });
  browser = await launchBrowser();
  ctx = await browser.context();
  page = await ctx.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const url = (p: string) => `${t.proc.url}${p}`;
const status = async () => (await t.api.call<UpdatesStatus>('GET', '/api/appliance/updates')).body;

/** Submit a form and return the status of the answer to its POST. */
async function submit(button: string): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.click(button),
  ]);
  await page.waitForLoadState();
  return response.status();
}

describe('/appliance > Updates in a browser', () => {
  it('signs in and shows the installed software', async () => {
    await page.goto(url('/appliance/updates'));
    await page.fill('#f-username', 'admin');
    await page.fill('#f-password', ADMIN_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/appliance/updates'),
      page.click('button[type=submit]'),
    ]);
    expect(await page.locator('h1').textContent()).toBe('Updates');
    expect(await page.textContent('#installed-product-version')).toBe(PRODUCT_VERSION);
    expect(await page.textContent('#installed-role')).toBe('standalone');
  });

  it('says why Check for updates fails: no server, a bad fingerprint, unreachable, wrong certificate', async () => {
    expect(await submit('#check-updates button[type=submit]')).toBe(409);
    expect(await page.textContent('#check-error')).toContain('No update server is configured');

    await page.fill('#f-url', 'https://127.0.0.1:9');
    await page.fill('#f-fingerprint', 'AB:CD');
    expect(await submit('#update-server-form button[type=submit]')).toBe(400);
    expect(await page.textContent('label.field:has(#f-fingerprint) #error-fingerprint')).toContain(
      '64 hex digits',
    );
    expect(await page.inputValue('#f-url')).toBe('https://127.0.0.1:9');

    const wrong = 'ab'.repeat(32);
    await page.fill('#f-fingerprint', wrong);
    expect(await submit('#update-server-form button[type=submit]')).toBe(303);
    expect(await submit('#check-updates button[type=submit]')).toBe(502);
    expect(await page.textContent('#check-error')).toMatch(/reach|connect/i);

    // The appliance's own TLS listener is a server whose certificate is not the pinned one.
    await page.fill('#f-url', t.proc.url);
    expect(await submit('#update-server-form button[type=submit]')).toBe(303);
    expect(await submit('#check-updates button[type=submit]')).toBe(502);
    expect(await page.textContent('#check-error')).toMatch(/fingerprint|certificate/i);
  });

  it('refuses a tampered package beside the file field and stages nothing', async () => {
    await page.setInputFiles('#f-file', tampered);
    expect(await submit('#upload-package button[type=submit]')).toBe(400);
    const beside = page.locator('label.field:has(#f-file) #error-file');
    await beside.waitFor();
    expect(await beside.textContent()).toMatch(/corrupt|digest|altered/i);
    expect(await page.locator('#staged tbody tr[data-id]').count()).toBe(0);
    expect((await status()).staged).toEqual([]);
    expect(readdirSync(path.join(t.dataDir, 'system', 'staging'))).toEqual([]);
  });

  it('stages an uploaded product package and offers its client installers (S13)', async () => {
    await page.goto(url('/appliance/updates'));
    await page.setInputFiles('#f-file', product110);
    expect(await submit('#upload-package button[type=submit]')).toBe(303);
    expect(await page.textContent('.notice')).toContain('Uploaded product 1.1.0');
    const row = page.locator('#staged tr[data-version="1.1.0"]');
    await row.waitFor();
    expect(await row.locator('a.installer').count()).toBe(2);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.locator('a.installer[data-client="jump-client"]').click(),
    ]);
    // The Jump Client installer: the site it connects to, then the signed product package.
    expect(download.suggestedFilename()).toBe('gatehouse-jump-client-1.1.0.ghjc');
    const installer = readFileSync(await download.path());
    const pkg = readFileSync(product110);
    expect(installer.subarray(0, INSTALLER_MARKER.length).toString()).toBe(INSTALLER_MARKER);
    expect(installer.subarray(installer.length - pkg.length)).toEqual(pkg);
  });

  it('installs it with Update Software, follows the progress and shows the commit', async () => {
    await page.goto(url('/appliance/updates'));
    expect(await submit('#staged tr[data-version="1.1.0"] form.install-staged button')).toBe(303);
    // The answer to the redirect is the progress page, refreshing itself while the install runs.
    expect(await page.textContent('.notice')).toContain('Installing product 1.1.0');
    expect(await page.locator('#install-progress meta[http-equiv="refresh"]').count()).toBe(1);
    await waitForSoftware(t.api, '1.1.0');
    // The page follows the restart: it answers again, on the new software, with its history.
    await until(
      async () => {
        await page.goto(url('/appliance/updates'));
        return (
          (await page.textContent('#installed-product-version')) === '1.1.0' &&
          (await page.locator('#install-progress').count()) === 0
        );
      },
      30_000,
      'the Updates page to show product 1.1.0 installed',
      200,
    );
    expect(await page.getAttribute('#last-result', 'data-ok')).toBe('true');
    const events = await page
      .locator('#history tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')));
    expect(events.slice(0, 3)).toEqual(['committed', 'switched', 'install-started']);
    expect(await page.locator('#backups tr[data-name] a.download').count()).toBe(1);
  });

  it('generates an Appliance Download Key to paste on the update server (S10)', async () => {
    await page.fill('#f-ttlHours', '24');
    expect(await submit('#download-key-form button[type=submit]')).toBe(200);
    const key = await page.inputValue('#download-key-value');
    expect(key.length).toBeGreaterThan(100);
    expect(await page.getAttribute('#download-key-value', 'readonly')).not.toBeNull();
    expect(await page.textContent('#download-key-expires')).toMatch(/UTC/);
    expect(await page.textContent('#download-key')).toContain('update server');
    expect((await status()).installed.product).toBe('1.1.0');
  });
});
