import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { startTargets, type Targets } from './support/targets.js';
import { enrolmentToken } from './support/jump-clients.js';
import { siteArgs } from './support/cli.js';
import { generateEd25519 } from '../src/shared/crypto.js';

let t: TestAppliance;
let targets: Targets;
let jump: JumpClient;
let rep: RepresentativeConsole;
let token: string;
let browser: TestBrowser | undefined;

const url = (p: string) => `${t.proc.url}${p}`;

async function signedInPage(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(url('/login/sign-in'));
  await page.fill('#f-username', 'admin');
  await page.fill('#f-password', LOGIN_PASSWORD);
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith('/login/') && u.pathname !== '/login/sign-in'),
    page.click('button[type=submit]'),
  ]);
  return page;
}

beforeAll(async () => {
  [t, targets] = await Promise.all([startTestAppliance({ name: 'status-web' }), startTargets()]);
  const site = { host: t.proc.host, port: t.proc.port, fingerprint: t.proc.fingerprint };
  token = await enrolmentToken(t.api);
  jump = new JumpClient({ site, name: 'live-jump', group: 'lab', token, allow: [targets.echo] });
  jump.start();
  rep = await RepresentativeConsole.signIn(site, 'admin', LOGIN_PASSWORD);
  await until(
    async () => (await rep.jumpClients()).some((j) => j.name === 'live-jump'),
    10_000,
    'the Jump Client to register',
  );
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await rep?.close();
  await jump?.stop();
  await targets?.close();
});

describe('Status > Information and Jump Clients pages in a browser', () => {
  it('shows a live session appear and disappear without reloading the page', async () => {
    const ctx = await browser!.context();
    try {
      const page = await signedInPage(ctx);
      await page.goto(url('/login/status/information'));
      let navigations = 0;
      page.on('framenavigated', (f) => {
        if (f === page.mainFrame()) navigations++;
      });
      expect(await page.locator('#clients tbody').textContent()).toContain('live-jump');
      expect(await page.locator('#live-sessions tbody').textContent()).toContain(
        'No session is running.',
      );

      const { session, socket } = await rep.openSession('live-jump', targets.echo);
      socket.write('hello, live page');
      const row = page.locator(`#live-sessions tr[data-session="${session}"]`);
      await row.waitFor({ timeout: 10_000 });
      const text = await row.textContent();
      expect(text).toContain('live-jump');
      expect(text).toContain('admin');
      expect(text).toContain(targets.echo);
      // The byte counters move too: 16 bytes each way once the echo came back.
      await until(
        async () => ((await row.textContent()) ?? '').includes('16 B'),
        10_000,
        'the byte counters on the page',
      );
      expect(await page.locator('#info-refresh').textContent()).toContain('Live');

      socket.end();
      await row.waitFor({ state: 'detached', timeout: 10_000 });
      expect(await page.locator('#live-sessions tbody').textContent()).toContain(
        'No session is running.',
      );
      expect(navigations).toBe(0);
    } finally {
      await ctx.close();
    }
  });

  it("shows a customer client join live, as its representative's customer", async () => {
    const ctx = await browser!.context();
    const site = { host: t.proc.host, port: t.proc.port, fingerprint: t.proc.fingerprint };
    const issued = await rep.sessionKey();
    const customer = new JumpClient({ site, sessionKey: issued.key, allow: [targets.echo] });
    try {
      const page = await signedInPage(ctx);
      await page.goto(url('/login/status/information'));
      expect(await page.locator('#clients tbody').textContent()).not.toContain(
        issued.customerClient,
      );
      customer.start();
      const row = page.locator('#clients tbody tr', { hasText: issued.customerClient });
      await row.waitFor({ timeout: 10_000 });
      expect(await row.textContent()).toContain('Customer client');
      expect(await row.textContent()).toContain(`${issued.customerClient} (customer of admin)`);
      await customer.stop();
      await row.waitFor({ state: 'detached', timeout: 10_000 });
    } finally {
      await customer.stop();
      await ctx.close();
    }
  });

  it('lists the running session without JavaScript too', async () => {
    const ctx = await browser!.browser.newContext({
      ignoreHTTPSErrors: true,
      javaScriptEnabled: false,
    });
    const { session, socket } = await rep.openSession('live-jump', targets.echo);
    try {
      const page = await signedInPage(ctx);
      await until(
        async () => {
          await page.goto(url('/login/status/information'));
          return (await page.locator(`#live-sessions tr[data-session="${session}"]`).count()) > 0;
        },
        10_000,
        'the session on the server-rendered page',
      );
      expect(await page.locator('#info-refresh').textContent()).toContain('reload the page');
    } finally {
      socket.end();
      await ctx.close();
    }
  });

  it('shows the Jump Client key, the install command and the connected Jump Clients', async () => {
    const ctx = await browser!.context();
    try {
      const page = await signedInPage(ctx);
      await page.goto(url('/login/users'));
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/login/jump-clients'),
        page.click('nav.side a[href="/login/jump-clients"]'),
      ]);
      // The live Jump Client's installation, enrolled with its own key: revocable here.
      expect(
        await page.locator('#installations-list tr[data-name="live-jump"]').textContent(),
      ).toContain('active');
      // A new enrolment token is shown once, and works: the API enrols a key with it.
      await page.fill('#f-uses', '1');
      await page.fill('#f-name', 'from-the-page');
      await Promise.all([page.waitForLoadState(), page.click('button:has-text("Create token")')]);
      const created = (await page.locator('#new-token').textContent()) ?? '';
      expect(created).toMatch(/^gjt1_/);
      const enrolled = await t.anon.call('POST', '/api/client/jump-clients/enrol', {
        json: {
          name: 'from-the-page',
          token: created,
          publicKey: generateEd25519().publicKeyPem,
        },
        auth: 'none',
      });
      expect(enrolled.status).toBe(201);
      const command = (await page.locator('#jump-client-command').textContent()) ?? '';
      // Jump Clients use the site hostname (S1), on the appliance's TLS port.
      const { siteHostname } = (
        await t.api.call<{ siteHostname: string }>('GET', '/api/login/settings')
      ).body;
      expect(siteHostname).not.toBe('');
      expect(command).toContain(siteArgs(t.proc, { host: siteHostname }).join(' '));
      expect(command).toContain('gatehouse jump-client');
      expect(command).toContain('--token-file');
      const row = page.locator('#jump-clients tr[data-jump-client="live-jump"]');
      expect(await row.textContent()).toContain(targets.echo);
      expect(await row.textContent()).toContain('lab');
    } finally {
      await ctx.close();
    }
  });

  it('sends the clients to the site by hand: the Jump Client reconnects, a session in progress goes on', async () => {
    const ctx = await browser!.context();
    const { socket } = await rep.openSession('live-jump', targets.echo);
    try {
      const page = await signedInPage(ctx);
      await page.goto(url('/login/status/information'));
      type Info = { connectedClients: { name: string; connectedAt: number }[] };
      const connectedAt = async () =>
        (await t.api.call<Info>('GET', '/api/login/status/information')).body.connectedClients.find(
          (c) => c.name === 'live-jump',
        )?.connectedAt ?? 0;
      const before = await connectedAt();
      expect(before).toBeGreaterThan(0);
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/login/status/information'),
        page.click('button:has-text("Send clients to the site")'),
      ]);
      expect(await page.textContent('.notice')).toMatch(/Asked [1-9]\d* clients? to reconnect/);
      await until(
        async () => (await connectedAt()) > before,
        15_000,
        'the Jump Client to reconnect through the site',
      );
      // The session's own connection was not touched.
      const echoed = new Promise<string>((resolve) =>
        socket.once('data', (d: Buffer) => resolve(d.toString())),
      );
      socket.write('still here');
      expect(await echoed).toBe('still here');
    } finally {
      socket.end();
      await ctx.close();
    }
  });
});
