import { beforeAll, describe, expect, it } from 'vitest';
import { PeerClient } from '../src/failover/peer-client.js';
import { freePort } from '../src/lab/processes.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';

const KEY = 'failover-relationship-key-0123456789abcdef';
const OTHER_KEY = 'another-inter-appliance-key-9876543210fedcba';

interface Problem {
  code: string;
  detail: string;
  errors?: { field: string; message: string }[];
}
interface Status {
  role: string;
  acceptsClients: boolean;
  relationship: {
    role: string;
    generation: number;
    peer: { name: string; fingerprint: string; address: { host: string; port: number } };
    backupOperationsEnabled: boolean;
  } | null;
  peerState: { reachable: boolean; role?: string; generation?: number } | null;
}
interface RoleChange {
  changed: boolean;
  role: string;
  generation: number;
  peerInformed?: boolean;
}

let a: TestAppliance;
let b: TestAppliance;
let c: TestAppliance;

const status = async (t: TestAppliance) =>
  (await t.api.call<Status>('GET', '/api/login/failover')).body;
const health = async (t: TestAppliance) =>
  (await t.anon.call<{ role: string }>('GET', '/health')).body.role;
const establishBody = (primary: TestAppliance, backup: TestAppliance) => ({
  backupHost: backup.proc.host,
  backupPort: backup.proc.port,
  reverseHost: primary.proc.host,
  reversePort: primary.proc.port,
});
const events = async (t: TestAppliance, action: string) =>
  (
    await t.api.call<{ items: { action: string; details: Record<string, unknown> }[] }>(
      'GET',
      `/api/login/logs?action=${encodeURIComponent(action)}`,
    )
  ).body.items;

beforeAll(async () => {
  [a, b, c] = await Promise.all([
    startTestAppliance({ name: 'fo-a', host: '127.0.0.41', interApplianceKey: KEY }),
    startTestAppliance({ name: 'fo-b', host: '127.0.0.42', interApplianceKey: OTHER_KEY }),
    startTestAppliance({ name: 'fo-c', host: '127.0.0.43', interApplianceKey: KEY }),
  ]);
});

describe('failover relationship between real appliances', () => {
  it('names bad connection details, a wrong port and the appliance itself, storing nothing', async () => {
    const bad = await a.api.call<Problem>('POST', '/api/login/failover/establish', {
      json: { backupHost: 'not a host!', backupPort: 0, reverseHost: '', reversePort: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.map((e) => e.field).sort()).toEqual([
      'backupHost',
      'backupPort',
      'reverseHost',
      'reversePort',
    ]);

    const closed = await freePort('127.0.0.42');
    const unreachable = await a.api.call<Problem>('POST', '/api/login/failover/establish', {
      json: { ...establishBody(a, b), backupPort: closed },
    });
    expect(unreachable.status).toBe(502);
    expect(unreachable.body.code).toBe('FAILOVER_PEER_UNREACHABLE');
    expect(unreachable.body.detail).toMatch(/wrong port/);
    expect(unreachable.body.errors?.map((e) => e.field)).toContain('backupPort');

    const self = await a.api.call<Problem>('POST', '/api/login/failover/establish', {
      json: establishBody(a, a),
    });
    expect(self.status).toBe(400);
    expect(self.body.code).toBe('FAILOVER_SELF');

    // A primary asking itself to join is refused with a 409, which the peer client keeps as
    // such (it turns other refusals into a 502).
    const address = { host: a.proc.host, port: a.proc.port };
    const itself = new PeerClient(address, a.proc.fingerprint, () => KEY, 'fo-a');
    try {
      await expect(
        itself.call('POST', '/api/peer/failover/join', {
          backupAddress: address,
          primaryAddress: address,
          primaryFingerprint: a.proc.fingerprint,
          generation: 1,
          sync: { firstAfterMs: 60_000, intervalMs: 60_000 },
        }),
      ).rejects.toMatchObject({ code: 'FAILOVER_SELF', status: 409 });
    } finally {
      await itself.close();
    }
    expect((await status(a)).relationship).toBeNull();
  });

  it('shows the Establish form with each error beside its field (CSRF-protected)', async () => {
    const browser = a.proc.client();
    try {
      const { token, csrfToken } = await browser.signIn('login', 'admin', LOGIN_PASSWORD);
      const headers = {
        accept: 'text/html',
        cookie: `__Host-gh-login=${token}`,
        'content-type': 'application/x-www-form-urlencoded',
      };
      const form = (fields: Record<string, string>) =>
        browser.call<string>('POST', '/login/failover/establish', {
          raw: Buffer.from(new URLSearchParams(fields).toString()),
          headers,
        });
      const page = await browser.call<string>('GET', '/login/failover', { headers });
      expect(page.body).toContain('id="establish-form"');
      expect(page.body).toContain('Reverse Connection Details to this Primary Site');
      const bad = await form({
        _csrf: csrfToken,
        backupHost: 'bad host',
        backupPort: '70000',
        reverseHost: a.proc.host,
        reversePort: String(a.proc.port),
      });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatch(/id="error-backupHost">must be a valid hostname/);
      expect(bad.body).toMatch(/id="error-backupPort">must be a TLS port number/);
      expect(bad.body).toContain('value="bad host"');
      expect((await form({ backupHost: 'x' })).status).toBe(403);
    } finally {
      await browser.close();
    }
    expect((await status(a)).relationship).toBeNull();
  });

  it('refuses to establish with a wrong Inter-Appliance key, then pairs with the right one', async () => {
    const wrong = await a.api.call<Problem>('POST', '/api/login/failover/establish', {
      json: establishBody(a, b),
    });
    expect(wrong.status).toBe(409);
    expect(wrong.body.code).toBe('FAILOVER_KEY_MISMATCH');
    expect(wrong.body.detail).toMatch(/Inter-Appliance key/);
    expect((await status(a)).relationship).toBeNull();
    expect((await status(b)).relationship).toBeNull();

    const setKey = await b.api.call('PUT', '/api/login/security/inter-appliance-key', {
      json: { key: KEY },
    });
    expect(setKey.status).toBe(200);

    const ok = await a.api.call<Status>('POST', '/api/login/failover/establish', {
      json: establishBody(a, b),
    });
    expect(ok.status).toBe(201);
    expect(ok.body.relationship).toMatchObject({
      role: 'primary',
      generation: 1,
      peer: { name: 'fo-b', fingerprint: b.proc.fingerprint },
    });
    const onB = await status(b);
    expect(onB.relationship).toMatchObject({
      role: 'backup',
      generation: 1,
      peer: {
        name: 'fo-a',
        fingerprint: a.proc.fingerprint,
        address: { host: a.proc.host, port: a.proc.port },
      },
    });
    expect(onB.peerState).toMatchObject({ reachable: true, role: 'primary', generation: 1 });
    expect(onB.acceptsClients).toBe(false);
    expect(await health(a)).toBe('primary');
    expect(await health(b)).toBe('backup');
    expect(await events(a, 'failover.established')).toHaveLength(1);
    expect(await events(b, 'failover.established')).toHaveLength(1);
  });

  it('refuses a second relationship and a peer already paired elsewhere', async () => {
    const again = await a.api.call<Problem>('POST', '/api/login/failover/establish', {
      json: establishBody(a, c),
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('FAILOVER_ALREADY_PAIRED');

    const elsewhere = await c.api.call<Problem>('POST', '/api/login/failover/establish', {
      json: establishBody(c, b),
    });
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body.code).toBe('FAILOVER_PEER_PAIRED');
    expect(elsewhere.body.detail).toMatch(/fo-b.*already the backup.*fo-a/);
    expect((await status(c)).relationship).toBeNull();
    expect((await status(b)).relationship?.peer.name).toBe('fo-a');
  });

  it('Sync Now on the primary waits for the sync and makes the backup users equal the primary ones', async () => {
    const users = async (t: TestAppliance) =>
      (
        await t.api.call<{ users: { username: string; displayName: string }[] }>(
          'GET',
          '/api/login/users',
        )
      ).body.users
        .map((u) => `${u.username}:${u.displayName}`)
        .sort();
    const created = await a.api.call('POST', '/api/login/users', {
      json: { username: 'synced.one', displayName: 'Synced One', password: 'Sturdy-Pass-101' },
    });
    expect(created.status).toBe(201);
    expect(await users(b)).not.toEqual(await users(a));

    const sync = await a.api.call<{ from: string; digest: string; rows: Record<string, number> }>(
      'POST',
      '/api/login/failover/sync',
    );
    expect(sync.status).toBe(200);
    expect(sync.body.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(await users(b)).toEqual(await users(a));

    const onA = await a.api.call<
      Status & {
        sync: {
          appliance: string;
          lastResult: { digest: string } | null;
          progress: { phase: string };
        };
      }
    >('GET', '/api/login/failover');
    expect(onA.body.sync).toMatchObject({
      appliance: 'fo-b',
      progress: { phase: 'done' },
      lastResult: { digest: sync.body.digest },
    });
    const token = a.api.tokenFor('login')!;
    const page = await a.anon.call<string>('GET', '/login/failover', {
      headers: { accept: 'text/html', cookie: `__Host-gh-login=${token}` },
    });
    expect(page.body).toContain('id="sync-now-form"');
    expect(page.body).toMatch(/id="sync-phase"\s*>done</);
    expect(page.body).not.toContain('http-equiv="refresh"');

    const standalone = await c.api.call<Problem>('POST', '/api/login/failover/sync');
    expect(standalone.status).toBe(409);
    expect(standalone.body.code).toBe('FAILOVER_NOT_PAIRED');
  });

  it('makes the backup read-only for users, settings and files, and refuses automatic updates on both', async () => {
    const create = await b.api.call<Problem>('POST', '/api/login/users', {
      json: { username: 'someone', displayName: 'Someone', password: 'Long-Enough-Pw-1' },
    });
    expect(create.status).toBe(409);
    expect(create.body.code).toBe('FAILOVER_BACKUP_READ_ONLY');
    expect(create.body.detail).toMatch(/on the primary/);
    expect((await b.api.call('GET', '/api/login/users')).status).toBe(200);
    const settings = await b.api.call<Problem>('PATCH', '/api/login/settings', {
      json: { siteName: 'changed on the backup' },
    });
    expect(settings.body.code).toBe('FAILOVER_BACKUP_READ_ONLY');
    // Without a session the API still answers 401, not a hint about the role.
    expect((await b.anon.call('POST', '/api/login/users', { json: {} })).status).toBe(401);

    const page = await b.anon.call('GET', '/login/users', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(303);
    expect(String(page.headers.location)).toMatch(/^\/login\/failover\?notice=.*backup/);

    const token = a.api.tokenFor('login')!;
    const failoverPage = await a.anon.call<string>('GET', '/login/failover', {
      headers: { accept: 'text/html', cookie: `__Host-gh-login=${token}` },
    });
    expect(failoverPage.status).toBe(200);
    expect(failoverPage.body).toMatch(/id="failover-role">primary</);
    expect(failoverPage.body).toContain(b.proc.fingerprint);
    expect(failoverPage.body).toContain('href="/login/failover"');
    expect(failoverPage.body).toContain('href="/login/users"');

    const backupPage = await b.anon.call<string>('GET', '/login/failover', {
      headers: { accept: 'text/html', cookie: `__Host-gh-login=${b.api.tokenFor('login')!}` },
    });
    expect(backupPage.body).toContain('href="/login/failover"');
    for (const hidden of ['/login/users', '/login/configuration', '/login/files'])
      expect(backupPage.body).not.toContain(`href="${hidden}"`);
    expect(backupPage.body).toMatch(/id="nav-backup-note">[^<]*backup of\s+"fo-a"/);

    for (const t of [a, b]) {
      const auto = await t.api.call<Problem>('PUT', '/api/appliance/updates/automatic', {
        json: { enabled: true, dailyAt: '03:30' },
      });
      expect(auto.status).toBe(409);
      expect(auto.body.code).toBe('UPDATE_AUTOMATIC_NOT_STANDALONE');
    }
  });

  it('swaps roles by Become Backup and Become Primary, raising the generation each time', async () => {
    const toBackup = await a.api.call<RoleChange>('POST', '/api/login/failover/become-backup', {
      json: {},
    });
    expect(toBackup.body).toMatchObject({ changed: true, role: 'backup', generation: 2 });
    expect(await health(a)).toBe('backup');
    expect(await health(b)).toBe('primary');
    expect((await status(b)).relationship?.generation).toBe(2);

    const already = await b.api.call<RoleChange>('POST', '/api/login/failover/become-primary', {
      json: {},
    });
    expect(already.body).toMatchObject({ changed: false, role: 'primary', generation: 2 });

    const back = await a.api.call<RoleChange>('POST', '/api/login/failover/become-primary', {
      json: {},
    });
    expect(back.body).toMatchObject({ changed: true, role: 'primary', generation: 3 });
    expect(await health(a)).toBe('primary');
    expect(await health(b)).toBe('backup');
  });

  it('lets the backup take over while the primary is down; the returning primary steps down', async () => {
    await a.proc.stop();
    const refused = await b.api.call<Problem>('POST', '/api/login/failover/become-primary', {
      json: {},
    });
    expect(refused.status).toBe(502);
    expect(refused.body.code).toBe('FAILOVER_PEER_UNREACHABLE');
    expect(refused.body.detail).toMatch(/Nothing was changed/);
    expect(await health(b)).toBe('backup');

    const forced = await b.api.call<RoleChange>('POST', '/api/login/failover/become-primary', {
      json: { force: true },
    });
    expect(forced.body).toMatchObject({
      changed: true,
      role: 'primary',
      generation: 4,
      peerInformed: false,
    });

    await a.restart();
    await until(async () => (await health(a)) === 'backup', 15_000, 'the old primary to step down');
    expect((await status(a)).relationship?.generation).toBe(4);
    const stepped = await events(a, 'failover.stepped-down');
    expect(stepped[0]?.details.reason).toMatch(/replaced/);
    expect(await health(b)).toBe('primary');
  });

  it('fails over automatically only while a check address answers (split-brain guard)', async () => {
    // a is the backup now; b the primary.
    const closed = await freePort('127.0.0.43');
    const noCheck = await a.api.call<Problem>('PUT', '/api/login/failover/automatic', {
      json: { enabled: true, unreachableForSeconds: 1, checkAddresses: [] },
    });
    expect(noCheck.status).toBe(400);
    expect(noCheck.body.errors?.[0]?.field).toBe('checkAddresses');
    const set = await a.api.call('PUT', '/api/login/failover/automatic', {
      json: {
        enabled: true,
        unreachableForSeconds: 1,
        checkAddresses: [{ host: '127.0.0.43', port: closed }],
      },
    });
    expect(set.status).toBe(200);

    await b.proc.stop();
    await until(
      async () => (await events(a, 'failover.automatic-takeover-withheld')).length > 0,
      15_000,
      'the takeover to be withheld',
    );
    expect(await health(a)).toBe('backup');

    await a.api.call('PUT', '/api/login/failover/automatic', {
      json: {
        enabled: true,
        unreachableForSeconds: 1,
        checkAddresses: [{ host: c.proc.host, port: c.proc.port }],
      },
    });
    await until(async () => (await health(a)) === 'primary', 15_000, 'the automatic takeover');
    const takeover = await events(a, 'failover.automatic-takeover');
    expect(takeover[0]?.details.reason).toMatch(/unreachable for .* answered/);
    await a.api.call('PUT', '/api/login/failover/automatic', {
      json: { enabled: false, unreachableForSeconds: 60, checkAddresses: [] },
    });

    await b.restart();
    await until(async () => (await health(b)) === 'backup', 15_000, 'the old primary to step down');
    expect((await status(b)).relationship?.generation).toBe(5);
  });

  it('breaks the relationship from either side: both go on standalone', async () => {
    const broken = await b.api.call<{ peerInformed: boolean }>('POST', '/api/login/failover/break');
    expect(broken.status).toBe(200);
    expect(broken.body.peerInformed).toBe(true);
    expect(await health(a)).toBe('standalone');
    expect(await health(b)).toBe('standalone');
    expect((await status(a)).relationship).toBeNull();
    const again = await a.api.call<Problem>('POST', '/api/login/failover/break');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('FAILOVER_NOT_PAIRED');
    // Standalone again: users can be changed on b, automatic updates allowed.
    const auto = await b.api.call('PUT', '/api/appliance/updates/automatic', {
      json: { enabled: false, dailyAt: '03:30' },
    });
    expect(auto.status).toBe(200);
  });
});
