import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestAppliance, tempDir } from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

let browser: TestBrowser | undefined;
afterAll(async () => {
  await browser?.close();
});

/** The error shown beside an input (ids hold dots: `error-hosts-file.hostname`). */
const errorBeside = (page: Page, input: string) =>
  page.locator(`[id="error-${input}"]`).textContent();

async function save(page: Page): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.click('#traffic-form button[type=submit]'),
  ]);
  await page.waitForLoadState();
  return response.status();
}

describe('/appliance > Networking > Traffic Switch in a real browser', () => {
  it('sets a method through its own fields, shows each error beside its field, keeps secrets unshown and points traffic here', async () => {
    const t = await startTestAppliance({ name: 'traffic-page', host: '127.0.0.140' });
    const hosts = path.join(tempDir('gh-traffic-page-'), 'hosts');
    writeFileSync(hosts, '127.0.0.1 localhost\n');
    browser = await launchBrowser();
    const page = await (await browser.context()).newPage();
    await page.goto(`${t.proc.url}/appliance/networking/traffic`);
    await page.fill('#f-username', 'admin');
    await page.fill('#f-password', ADMIN_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/appliance/networking/traffic'),
      page.click('button[type=submit]'),
    ]);
    expect(await page.textContent('#traffic-method')).toContain('none configured');

    // A hosts file, with a hostname that is not one: refused beside the field, nothing stored.
    await page.selectOption('#f-provider', 'hosts-file');
    await page.fill('[id="f-hosts-file.file"]', hosts);
    await page.fill('[id="f-hosts-file.hostname"]', 'not a name');
    expect(await save(page)).toBe(400);
    expect(await errorBeside(page, 'hosts-file.hostname')).toContain('must be a DNS name');
    expect(await page.inputValue('[id="f-hosts-file.file"]')).toBe(hosts);
    expect(await page.textContent('#traffic-method')).toContain('none configured');

    await page.fill('[id="f-hosts-file.hostname"]', 'support.example.test');
    expect(await save(page)).toBe(303);
    expect(await page.textContent('.notice')).toContain('Traffic switch set to hosts-file');
    await Promise.all([
      page.waitForLoadState(),
      page.click('button:has-text("Point traffic here")'),
    ]);
    expect(await page.textContent('.notice')).toContain('Traffic now goes to 127.0.0.140');
    expect(readFileSync(hosts, 'utf8')).toMatch(/^127\.0\.0\.140\s+support\.example\.test/m);

    // RFC 2136: the TSIG secret is written once, never shown again, and kept when left empty.
    const secret = Buffer.alloc(32, 7).toString('base64');
    await page.selectOption('#f-provider', 'rfc2136');
    await page.fill('[id="f-rfc2136.server"]', '127.0.0.53');
    await page.fill('[id="f-rfc2136.zone"]', 'example.test');
    await page.fill('[id="f-rfc2136.hostname"]', 'support.example.test');
    await page.fill('[id="f-rfc2136.tsig.name"]', 'gatehouse-key');
    await page.fill('[id="f-rfc2136.tsig.secret"]', secret);
    expect(await save(page)).toBe(303);
    expect(await page.content()).not.toContain(secret);
    expect(await page.inputValue('[id="f-rfc2136.tsig.secret"]')).toBe('');
    expect(await page.inputValue('[id="f-rfc2136.ttl"]')).toBe('60');
    await page.fill('[id="f-rfc2136.ttl"]', '30');
    expect(await save(page)).toBe(303);
    expect(await page.inputValue('[id="f-rfc2136.ttl"]')).toBe('30');
    // What the API shows: the new TTL, the key, and no secret.
    const shown = await t.api.call<{
      config: { ttl: number; tsig: { name: string; secret: string } };
    }>('GET', '/api/appliance/traffic');
    expect(shown.body.config.ttl).toBe(30);
    expect(shown.body.config.tsig.name).toBe('gatehouse-key');
    expect(JSON.stringify(shown.body)).not.toContain(secret);
    // Another server with the secret left empty: the stored secret does not go there.
    await page.fill('[id="f-rfc2136.server"]', '192.0.2.53');
    expect(await save(page)).toBe(400);
    expect(await errorBeside(page, 'rfc2136.tsig.secret')).toBe('is required');
    expect(
      (await t.api.call<{ config: { server: string } }>('GET', '/api/appliance/traffic')).body
        .config.server,
    ).toBe('127.0.0.53');

    // A command's arguments are one per line; an empty command is refused beside it.
    await page.selectOption('#f-provider', 'command');
    expect(await save(page)).toBe(400);
    expect(await errorBeside(page, 'command.argv')).toBeTruthy();
    await page.fill('[id="f-command.argv"]', '/usr/sbin/nat-swing\n--to\n${TARGET}');
    expect(await save(page)).toBe(303);
    expect(
      (await t.api.call<{ config: { argv: string[] } }>('GET', '/api/appliance/traffic')).body
        .config.argv,
    ).toEqual(['/usr/sbin/nat-swing', '--to', '${TARGET}']);
  }, 90_000);
});
