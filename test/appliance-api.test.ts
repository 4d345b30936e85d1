import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestAppliance, type TestAppliance } from './support/appliance.js';

interface Problem {
  code: string;
  detail: string;
  errors?: { field: string; message: string }[];
}

let t: TestAppliance;
beforeAll(async () => {
  t = await startTestAppliance({ name: 'appliance-api' });
});

describe('health and API description', () => {
  it('answers /health without a session, with name, role, versions and readiness', async () => {
    const res = await t.anon.call<Record<string, unknown>>('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'appliance-api', role: 'standalone', ready: true });
    expect(res.body.productVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(res.body.baseVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('refuses unauthenticated requests to every operation of the OpenAPI document except sign-in', async () => {
    expect((await t.anon.call('GET', '/api/openapi.json')).status).toBe(401);
    const doc = (
      await t.api.call<{
        paths: Record<
          string,
          Record<string, { security: Record<string, unknown>[]; operationId: string }>
        >;
      }>('GET', '/api/openapi.json', { auth: 'login' })
    ).body;
    const publicOps: string[] = [];
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const concrete = path
          .replace('{username}', 'admin')
          .replace('{name}', 'x.txt')
          .replace('{address}', '127.0.0.1')
          .replace('{id}', '00000000-0000-4000-8000-000000000000');
        if (op.security.length === 0) {
          publicOps.push(op.operationId);
          continue;
        }
        const res = await t.anon.call<Problem>(method.toUpperCase(), concrete, {
          json: method === 'get' || method === 'delete' ? undefined : {},
          auth: 'none',
        });
        expect(res.status, `${method.toUpperCase()} ${concrete}`).toBe(401);
        // Client routes (consoles, Jump Clients) take a client ticket instead of a session.
        expect(res.body.code).toBe(
          'clientTicket' in op.security[0]! ? 'CLIENT_TICKET_INVALID' : 'AUTH_REQUIRED',
        );
        checked++;
      }
    }
    expect(publicOps.sort()).toEqual([
      'applianceSignIn',
      'consoleSignIn',
      // Authenticated by the one-use session key a representative gave (or its ticket).
      'customerClientJoin',
      // Gives nothing by itself: only the bound installation's signature of it registers.
      'jumpClientChallenge',
      // Authenticated by the enrolment token an administrator created.
      'jumpClientEnrol',
      // Authenticated by the installation's signature of a one-use challenge.
      'jumpClientRegister',
      'loginSignIn',
    ]);
    expect(checked).toBeGreaterThan(20);
  });

  it('sends every web console page to its sign-in page without a session', async () => {
    const pages = [
      '/appliance/status',
      '/appliance/networking',
      '/appliance/updates',
      '/appliance/backup',
      '/login/users',
      '/login/users/new',
      '/login/users/admin',
      '/login/configuration',
      '/login/files',
      '/login/logs',
      '/login/management/security',
      '/login/status/information',
    ];
    for (const page of pages) {
      const area = page.split('/')[1];
      const res = await t.anon.call('GET', page, {
        headers: { accept: 'text/html' },
        auth: 'none',
      });
      expect(res.status, page).toBe(303);
      expect(String(res.headers.location), page).toMatch(new RegExp(`^/${area}/sign-in`));
    }
    const post = await t.anon.call('POST', '/login/users/new', {
      raw: Buffer.from('username=x'),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      auth: 'none',
    });
    expect(post.status).toBe(303);
    expect((await t.api.call('GET', '/api/login/users/admin')).status).toBe(200);
  });

  it('keeps the two areas apart: a /login token does not open /appliance', async () => {
    const res = await t.api.call<Problem>('GET', '/api/appliance/status', { auth: 'login' });
    expect(res.status).toBe(401);
  });
});

describe('/login users', () => {
  it('creates, edits, disables and deletes a user, each written to the event log', async () => {
    const created = await t.api.call<{ username: string; isAdmin: boolean }>(
      'POST',
      '/api/login/users',
      {
        json: {
          username: 'ann.rep',
          displayName: 'Ann Rep',
          email: 'ann@example.test',
          password: 'Blue-Harbour-77',
        },
      },
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'ann.rep', isAdmin: false });
    expect(JSON.stringify(created.body)).not.toContain('Blue-Harbour-77');

    const edited = await t.api.call<{ displayName: string; disabled: boolean }>(
      'PATCH',
      '/api/login/users/ann.rep',
      { json: { displayName: 'Ann R.', disabled: true } },
    );
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ displayName: 'Ann R.', disabled: true });

    expect((await t.api.call('DELETE', '/api/login/users/ann.rep')).status).toBe(204);
    expect((await t.api.call('GET', '/api/login/users/ann.rep')).status).toBe(404);

    const log = await t.api.call<{ items: { action: string; target: string }[] }>(
      'GET',
      '/api/login/logs?q=ann.rep&pageSize=20',
    );
    expect(log.body.items.map((e) => e.action).sort()).toEqual([
      'user.created',
      'user.deleted',
      'user.updated',
    ]);
  });

  it('refuses a weak password naming the field and the rule, and creates nothing', async () => {
    const res = await t.api.call<Problem>('POST', '/api/login/users', {
      json: { username: 'weak', displayName: 'W', password: 'short' },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.code).toBe('PASSWORD_TOO_WEAK');
    expect(res.body.errors).toEqual([
      { field: 'password', message: 'must be at least 12 characters long' },
    ]);
    expect((await t.api.call('GET', '/api/login/users/weak')).status).toBe(404);
  });

  it('names every bad field, including unknown ones', async () => {
    const res = await t.api.call<Problem>('POST', '/api/login/users', {
      json: { username: 'x', displayName: '', password: 'Long-Enough-Pass-1', colour: 'red' },
    });
    expect(res.status).toBe(400);
    const fields = res.body.errors!.map((e) => e.field).sort();
    expect(fields).toEqual(['colour', 'displayName', 'username']);
    expect(res.body.detail).toContain('username:');
  });

  it('refuses a body that is not JSON with a clear problem', async () => {
    const res = await t.api.call<Problem>('POST', '/api/login/users', {
      raw: Buffer.from('{not json'),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('BODY_NOT_JSON');
  });

  it('refuses to disable or delete the last administrator', async () => {
    const res = await t.api.call<Problem>('DELETE', '/api/login/users/admin');
    expect(res.status).toBe(409);
    const other = await t.api.call<Problem>('PATCH', '/api/login/users/admin', {
      json: { isAdmin: false },
    });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('USER_LAST_ADMIN');
  });
});

describe('sign-in security', () => {
  it('sets HttpOnly, Secure, SameSite=Strict host-only cookies and requires CSRF for cookie writes', async () => {
    const res = await t.anon.call<{ token: string; csrfToken: string }>(
      'POST',
      '/api/login/session',
      { json: { username: 'admin', password: 'Site-Operator-Pw-2' } },
    );
    expect(res.status).toBe(201);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-gh-login=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/Secure/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const jar = cookie.split(';')[0]!;
    const withoutCsrf = await t.anon.call<Problem>('PATCH', '/api/login/settings', {
      json: { siteName: 'X' },
      headers: { cookie: jar },
      auth: 'none',
    });
    expect(withoutCsrf.status).toBe(403);
    expect(withoutCsrf.body.code).toBe('CSRF_TOKEN_INVALID');
    const withCsrf = await t.anon.call('PATCH', '/api/login/settings', {
      json: { siteName: 'Cookie Site' },
      headers: { cookie: jar, 'x-csrf-token': res.body.csrfToken },
      auth: 'none',
    });
    expect(withCsrf.status).toBe(200);
  });

  it('slows a guessed-at account by backoff and says for how long', async () => {
    await t.api.call('POST', '/api/login/users', {
      json: { username: 'lockme', displayName: 'L', password: 'Right-Pass-123x', isAdmin: true },
    });
    // Five free failures, then each attempt doubles the wait (5, 10, 20… s).
    for (let i = 0; i < 9; i++) {
      const bad = await t.anon.call<Problem>('POST', '/api/login/session', {
        json: { username: 'lockme', password: `wrong-${i}` },
      });
      expect(bad.status).toBe(i < 5 ? 401 : 429);
    }
    // This address never signed in to lockme: the right password waits too.
    const locked = await t.anon.call<Problem>('POST', '/api/login/session', {
      json: { username: 'lockme', password: 'Right-Pass-123x' },
    });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe('AUTH_THROTTLED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    // A password reset by an administrator unlocks it.
    expect(
      (
        await t.api.call('PATCH', '/api/login/users/lockme', {
          json: { password: 'Fresh-Pass-456y' },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await t.anon.call('POST', '/api/login/session', {
          json: { username: 'lockme', password: 'Fresh-Pass-456y' },
        })
      ).status,
    ).toBe(201);
  });

  it('never writes a password, token or key to the appliance log', async () => {
    const key = (
      await t.api.call<{ key: string }>('GET', '/api/login/security/inter-appliance-key')
    ).body.key;
    await t.proc.stop();
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(`${t.dataDir}/logs/appliance.log`, 'utf8') + t.proc.output.join('\n');
    expect(log.length).toBeGreaterThan(100);
    for (const secret of [
      'Site-Operator-Pw-2',
      'Gatekeeper-Pass-1',
      'Right-Pass-123x',
      key,
      t.api.tokenFor('login')!,
    ]) {
      expect(log).not.toContain(secret);
    }
    await t.restart();
  });
});

describe('/login settings, files, security and status', () => {
  it('changes settings and refuses unknown or out-of-range ones', async () => {
    const ok = await t.api.call<{ passwordMinLength: number }>('PATCH', '/api/login/settings', {
      json: { passwordMinLength: 14 },
    });
    expect(ok.body.passwordMinLength).toBe(14);
    const bad = await t.api.call<Problem>('PATCH', '/api/login/settings', {
      json: { passwordMinLength: 3, colour: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors!.map((e) => e.field).sort()).toEqual(['colour', 'passwordMinLength']);
    expect(
      (await t.api.call<{ passwordMinLength: number }>('GET', '/api/login/settings')).body
        .passwordMinLength,
    ).toBe(14);
    await t.api.call('PATCH', '/api/login/settings', { json: { passwordMinLength: 12 } });
  });

  it('stores, lists, downloads and deletes files in the file store', async () => {
    const content = Buffer.alloc(300_000, 7);
    const put = await t.api.call<{ sha256: string; size: number }>(
      'PUT',
      '/api/login/files/agent%20notes.bin',
      { raw: Readable.from([content.subarray(0, 1000), content.subarray(1000)]) },
    );
    expect(put.status).toBe(201);
    expect(put.body.size).toBe(content.length);
    const list = await t.api.call<{ files: { name: string }[] }>('GET', '/api/login/files');
    expect(list.body.files.map((f) => f.name)).toContain('agent notes.bin');
    const got = await t.api.call<Buffer>('GET', '/api/login/files/agent%20notes.bin');
    expect(got.status).toBe(200);
    expect(Buffer.compare(got.body, content)).toBe(0);
    expect((await t.api.call('DELETE', '/api/login/files/agent%20notes.bin')).status).toBe(204);
    expect((await t.api.call('GET', '/api/login/files/agent%20notes.bin')).status).toBe(404);
    const badName = await t.api.call<Problem>('PUT', '/api/login/files/a%2Fb', {
      raw: Buffer.from('x'),
    });
    expect(badName.status).toBe(400);
    expect(badName.body.errors![0]!.field).toBe('name');
  });

  it('shows, regenerates and sets the Inter-Appliance key, logging only its fingerprint', async () => {
    const first = (
      await t.api.call<{ key: string; fingerprint: string }>(
        'GET',
        '/api/login/security/inter-appliance-key',
      )
    ).body;
    const regen = (
      await t.api.call<{ key: string }>(
        'POST',
        '/api/login/security/inter-appliance-key/regenerate',
      )
    ).body;
    expect(regen.key).not.toBe(first.key);
    const set = await t.api.call('PUT', '/api/login/security/inter-appliance-key', {
      json: { key: first.key },
    });
    expect(set.status).toBe(200);
    expect(
      (await t.api.call<{ key: string }>('GET', '/api/login/security/inter-appliance-key')).body
        .key,
    ).toBe(first.key);
    const bad = await t.api.call<Problem>('PUT', '/api/login/security/inter-appliance-key', {
      json: { key: 'too short' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors![0]!.field).toBe('key');
    const log = await t.api.call<{ items: unknown[] }>(
      'GET',
      '/api/login/logs?q=inter_appliance_key&pageSize=50',
    );
    expect(log.body.items.length).toBe(2);
    expect(JSON.stringify(log.body)).not.toContain(first.key);
    expect(JSON.stringify(log.body)).not.toContain(regen.key);
  });

  it('pages and searches the event log', async () => {
    const page1 = await t.api.call<{ items: { id: string }[]; total: number }>(
      'GET',
      '/api/login/logs?pageSize=3&page=1',
    );
    const page2 = await t.api.call<{ items: { id: string }[]; total: number }>(
      'GET',
      '/api/login/logs?pageSize=3&page=2',
    );
    expect(page1.body.items).toHaveLength(3);
    expect(page1.body.total).toBeGreaterThan(6);
    expect(page2.body.items.map((e) => e.id)).not.toContain(page1.body.items[0]!.id);
    const bad = await t.api.call<Problem>('GET', '/api/login/logs?pageSize=9999');
    expect(bad.status).toBe(400);
    expect(bad.body.errors![0]).toEqual({ field: 'pageSize', message: 'must be at most 500' });
  });

  it('lists connected clients on Status > Information (none yet)', async () => {
    const res = await t.api.call<{ connectedClients: unknown[] }>(
      'GET',
      '/api/login/status/information',
    );
    expect(res.status).toBe(200);
    expect(res.body.connectedClients).toEqual([]);
  });
});

describe('/appliance status and networking', () => {
  it('reports status: name, versions, uptime, addresses, disk', async () => {
    const s = (
      await t.api.call<{
        name: string;
        addresses: unknown[];
        disk: { freeBytes: number };
        uptimeSeconds: number;
        certificateFingerprint: string;
      }>('GET', '/api/appliance/status')
    ).body;
    expect(s.name).toBe('appliance-api');
    expect(s.addresses).toEqual([
      expect.objectContaining({ address: '127.0.0.1', kind: 'unique', enabled: true }),
    ]);
    expect(s.disk.freeBytes).toBeGreaterThan(0);
    expect(s.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(s.certificateFingerprint).toBe(t.proc.fingerprint);
  });

  it('adds a shared IP, disables and re-enables it, and refuses to disable a unique address', async () => {
    const added = await t.api.call<{ enabled: boolean }>(
      'POST',
      '/api/appliance/network/addresses',
      { json: { address: '127.0.0.50', kind: 'shared', label: 'site' } },
    );
    expect(added.status).toBe(201);
    expect(
      (
        await t.api.call<{ enabled: boolean }>(
          'PATCH',
          '/api/appliance/network/addresses/127.0.0.50',
          { json: { enabled: false } },
        )
      ).body.enabled,
    ).toBe(false);
    expect(
      (
        await t.api.call<{ enabled: boolean }>(
          'PATCH',
          '/api/appliance/network/addresses/127.0.0.50',
          { json: { enabled: true } },
        )
      ).body.enabled,
    ).toBe(true);
    const refused = await t.api.call<Problem>(
      'PATCH',
      '/api/appliance/network/addresses/127.0.0.1',
      { json: { enabled: false } },
    );
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('ADDRESS_UNIQUE_ALWAYS_ENABLED');
    const badIp = await t.api.call<Problem>('POST', '/api/appliance/network/addresses', {
      json: { address: '300.1.1.1', kind: 'shared' },
    });
    expect(badIp.body.errors![0]!.field).toBe('address');
  });
});

describe('/appliance administrator account', () => {
  it('changes its own password only with the current one, under the password rules', async () => {
    const wrong = await t.api.call<Problem>('PUT', '/api/appliance/account/password', {
      json: { currentPassword: 'nope', newPassword: 'Another-Gate-77' },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors![0]!.field).toBe('currentPassword');
    const weak = await t.api.call<Problem>('PUT', '/api/appliance/account/password', {
      json: { currentPassword: ADMIN_PASSWORD, newPassword: 'weak' },
    });
    expect(weak.body.errors![0]!.field).toBe('newPassword');
    const ok = await t.api.call('PUT', '/api/appliance/account/password', {
      json: { currentPassword: ADMIN_PASSWORD, newPassword: 'Another-Gate-77' },
    });
    expect(ok.status).toBe(204);
    expect(
      (
        await t.anon.call('POST', '/api/appliance/session', {
          json: { username: 'admin', password: ADMIN_PASSWORD },
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await t.anon.call('POST', '/api/appliance/session', {
          json: { username: 'admin', password: 'Another-Gate-77' },
        })
      ).status,
    ).toBe(201);
    await t.api.call('PUT', '/api/appliance/account/password', {
      json: { currentPassword: 'Another-Gate-77', newPassword: ADMIN_PASSWORD },
    });
  });
});

describe('stopping', () => {
  it('finishes an in-flight upload on SIGTERM, then exits 0', async () => {
    const body = new Readable({ read() {} });
    const push = (c: Buffer | null) => body.push(c);
    const upload = t.api.call<{ size: number }>('PUT', '/api/login/files/in-flight.bin', {
      raw: body,
    });
    push(Buffer.alloc(64 * 1024, 1));
    const { until } = await import('./support/appliance.js');
    // The request is in flight once the appliance has received its first bytes.
    await until(() => t.proc.output.length > 0, 5_000, 'appliance output');
    await new Promise((r) => setImmediate(r));
    t.proc.child.kill('SIGTERM');
    await until(
      () => t.proc.output.some((l) => l.includes('finishing in-flight requests')),
      5_000,
      'the appliance to start stopping',
    );
    push(Buffer.alloc(64 * 1024, 2));
    push(null);
    const res = await upload;
    expect(res.status).toBe(201);
    expect(res.body.size).toBe(128 * 1024);
    expect(await t.proc.waitExit(10_000)).toBe(0);
    await t.restart();
    const file = await t.api.call<Buffer>('GET', '/api/login/files/in-flight.bin');
    expect(file.body.length).toBe(128 * 1024);
  });
});
