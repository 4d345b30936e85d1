import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  LOGIN_PASSWORD,
  startTestAppliance,
  tempDir,
  type TestAppliance,
} from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

let t: TestAppliance;
let browser: TestBrowser | undefined;
let ctx: BrowserContext;
let page: Page;

beforeAll(async () => {
  t = await startTestAppliance({ name: 'web-console' });
  browser = await launchBrowser();
  ctx = await browser.context();
  page = await ctx.newPage();
});

afterAll(async () => {
  await browser?.close();
});

const url = (p: string) => `${t.proc.url}${p}`;

async function signIn(area: 'appliance' | 'login', password: string) {
  await page.goto(url(`/${area}/sign-in`));
  await page.fill('#f-username', 'admin');
  await page.fill('#f-password', password);
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith(`/${area}/`) && u.pathname !== `/${area}/sign-in`),
    page.click('button[type=submit]'),
  ]);
}

/** Submit a form and return the status of the answer to its POST. */
async function submit(form: string): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.click(`${form} button[type=submit]`),
  ]);
  await page.waitForLoadState();
  return response.status();
}

describe('web console in a browser', () => {
  it('sends a visitor without a session from /login/users to the sign-in page', async () => {
    const anonymous = await browser!.context();
    try {
      const p = await anonymous.newPage();
      await p.goto(url('/login/users'));
      const at = new URL(p.url());
      expect(at.pathname).toBe('/login/sign-in');
      expect(at.searchParams.get('next')).toBe('/login/users');
      await p.locator('#f-password').waitFor();
      expect(await p.locator('#users').count()).toBe(0);
    } finally {
      await anonymous.close();
    }
  });

  it('creates a user through the New user form, refusing a too-short password beside its field', async () => {
    await signIn('login', LOGIN_PASSWORD);
    await page.goto(url('/login/users'));
    await page.click('#new-user');
    await page.waitForURL((u) => u.pathname === '/login/users/new');
    expect(await page.locator('h1').textContent()).toBe('New user');

    await page.fill('#f-username', 'ann.rep');
    await page.fill('#f-displayName', 'Ann Rep');
    await page.fill('#f-email', 'ann@example.test');
    await page.fill('#f-password', 'Sh0rt-pw');
    expect(await submit('#user-form')).toBe(400);

    const beside = page.locator('label.field:has(#f-password) #error-password');
    await beside.waitFor();
    expect(await beside.textContent()).toContain('at least 12 characters');
    expect(await page.inputValue('#f-username')).toBe('ann.rep');
    expect(await page.inputValue('#f-password')).toBe('');
    expect((await t.api.call('GET', '/api/login/users/ann.rep')).status).toBe(404);

    await page.fill('#f-password', 'Blue-Harbour-77');
    expect(await submit('#user-form')).toBe(303);
    await page.waitForURL((u) => u.pathname === '/login/users');
    expect(await page.locator('.notice').textContent()).toContain('Created user ann.rep');
    const row = page.locator('#users tr[data-username="ann.rep"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('Ann Rep');
    expect((await t.api.call('GET', '/api/login/users/ann.rep')).status).toBe(200);
  });

  it('uploads a file through the File Store form, lists it and downloads the same bytes', async () => {
    const content = randomBytes(300_000);
    await page.goto(url('/login/files'));
    await page.setInputFiles('#f-file', {
      name: 'runbook notes.bin',
      mimeType: 'application/octet-stream',
      buffer: content,
    });
    expect(await submit('#upload')).toBe(303);
    await page.waitForURL((u) => u.pathname === '/login/files');
    const row = page.locator('#files tr[data-name="runbook notes.bin"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('293.0 KiB');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.locator('a.download').click(),
    ]);
    expect(download.suggestedFilename()).toBe('runbook notes.bin');
    expect(Buffer.compare(await readFile(await download.path()), content)).toBe(0);
  });

  it('refuses a file above the File Store limit beside the file field and stores nothing', async () => {
    const limit = await t.api.call('PATCH', '/api/login/settings', {
      json: { fileStoreMaxMiB: 1 },
    });
    expect(limit.status).toBe(200);
    try {
      await page.goto(url('/login/files'));
      await page.setInputFiles('#f-file', {
        name: 'too-big.bin',
        mimeType: 'application/octet-stream',
        buffer: Buffer.alloc(3 * 1024 * 1024, 7),
      });
      expect(await submit('#upload')).toBe(413);
      const beside = page.locator('label.field:has(#f-file) #error-file');
      await beside.waitFor();
      expect(await beside.textContent()).toContain('larger than the limit');
      expect(await page.locator('#files tr[data-name="too-big.bin"]').count()).toBe(0);
    } finally {
      await t.api.call('PATCH', '/api/login/settings', { json: { fileStoreMaxMiB: 512 } });
    }
  });

  it('downloads a backup from the /appliance Backup page and refuses a truncated one beside the file field', async () => {
    await signIn('appliance', ADMIN_PASSWORD);
    await page.goto(url('/appliance/backup'));
    expect(await page.locator('h1').textContent()).toBe('Backup');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#backup-download button[type=submit]'),
    ]);
    expect(download.suggestedFilename()).toMatch(/^web-console-.+\.ghbackup$/);
    const archive = await readFile(await download.path());
    expect(archive.subarray(0, 17).toString('latin1')).toBe('GATEHOUSE-BACKUP\n');

    const truncated = path.join(tempDir(), 'truncated.ghbackup');
    await writeFile(truncated, archive.subarray(0, Math.floor(archive.length / 2)));
    await page.setInputFiles('#f-archive', truncated);
    expect(await submit('#backup-restore')).toBe(400);
    const beside = page.locator('label.field:has(#f-archive) #error-archive');
    await beside.waitFor();
    expect(await beside.textContent()).toContain('truncated');
    expect((await t.api.call('GET', '/api/login/users/ann.rep')).status).toBe(200);
  });
});
