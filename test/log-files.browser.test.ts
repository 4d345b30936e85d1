import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestAppliance, storeApplianceSetting } from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

let browser: TestBrowser | undefined;
afterAll(async () => browser?.close());

describe('/appliance > Log files in a real browser', () => {
  it('warns that a saved setting over the cap is not used and the defaults are, lists the gzipped files, and the warning goes once a setting is saved', async () => {
    const t = await startTestAppliance({ name: 'log-files-page' });
    await t.restart(() => {
      // An older version's setting over today's 20 GiB cap, and a rotated file gzipped.
      storeApplianceSetting(t.dataDir, 'logs.rotation', { maxFileMiB: 512, keepFiles: 40 });
      writeFileSync(
        path.join(t.dataDir, 'logs', 'appliance.log.2.gz'),
        gzipSync('{"msg":"old"}\n'.repeat(1000)),
      );
    });
    browser = await launchBrowser();
    const page = await (await browser.context()).newPage();
    await page.goto(`${t.proc.url}/appliance/logs`);
    await page.fill('#f-username', 'admin');
    await page.fill('#f-password', ADMIN_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/appliance/logs'),
      page.click('button[type=submit]'),
    ]);

    const warning = page.locator('#rotation-ignored');
    await expect.poll(() => warning.isVisible(), { timeout: 10_000 }).toBe(true);
    const text = await warning.innerText();
    expect(text).toContain('The saved rotation setting (512 MiB × 40 files) is not used');
    expect(text).toContain('41 × 512 × 2 = 41984 MiB');
    expect(text).toContain('The defaults are in force instead (50 MiB, 10 kept)');
    expect(text).toContain('gatehouse appliance log-rotation set');
    expect(await page.inputValue('#f-maxFileMiB')).toBe('50');
    expect(await page.textContent('#log-file-list')).toContain('appliance.log.2.gz');
    expect(await page.textContent('#log-files')).toContain('gzipped in the background');

    await page.fill('#f-maxFileMiB', '100');
    await page.fill('#f-keepFiles', '20');
    await Promise.all([
      page.waitForLoadState('load'),
      page.click('#rotation-form button[type=submit]'),
    ]);
    await expect
      .poll(() => page.textContent('body'), { timeout: 10_000 })
      .toContain('Log files are now rotated at 100 MiB, 20 kept.');
    expect(await page.locator('#rotation-ignored').count()).toBe(0);
    expect((await t.api.call('GET', '/api/appliance/logs/rotation')).body).toEqual({
      maxFileMiB: 100,
      keepFiles: 20,
    });
  }, 90_000);
});
