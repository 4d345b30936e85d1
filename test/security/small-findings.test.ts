import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplianceClient } from '../../src/clients/admin-client.js';
import type { Problem } from '../../src/shared/errors.js';
import { until } from '../../src/shared/until.js';
import { PRODUCT_VERSION } from '../../src/shared/version.js';
import {
  ADMIN_PASSWORD,
  LOGIN_PASSWORD,
  startTestAppliance,
  tempDir,
  type TestAppliance,
} from '../support/appliance.js';

const NEW_PASSWORD = 'Changed-Gate-Pass-55';

/**
 * Issue 18, finding 5, against one real appliance: each test fails if its fix is removed. (A
 * repeated form field is test/security/forms.test.ts; peer nonces after a restart are
 * src/failover/peer-auth.test.ts.)
 */
describe('finding 5: the small ones', () => {
  let t: TestAppliance;
  const opened: ApplianceClient[] = [];
  const client = (localAddress?: string) => {
    const c = t.proc.client(localAddress ? { localAddress } : undefined);
    opened.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestAppliance({ name: 'small-findings' });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
  });

  it('a password change is slowed after wrong current passwords and ends the other /appliance sessions', async () => {
    const other = client();
    await other.signIn('appliance', 'admin', ADMIN_PASSWORD);
    expect((await other.call('GET', '/api/appliance/status')).status).toBe(200);
    const change = (currentPassword: string) =>
      t.api.call<Problem>('PUT', '/api/appliance/account/password', {
        json: { currentPassword, newPassword: NEW_PASSWORD },
      });
    for (let i = 0; i < 5; i++) {
      const wrong = await change(`guess-${i}`);
      expect(wrong.status, `guess ${i}`).toBe(400);
      expect(wrong.body.errors![0]!.field).toBe('currentPassword');
    }
    // The next try waits, the right password included (it is how a thief holding a session
    // would guess), and changes nothing.
    const slowed = await change(ADMIN_PASSWORD);
    expect(slowed.status).toBe(429);
    expect(slowed.body.code).toBe('AUTH_THROTTLED');
    expect(Number(slowed.headers['retry-after'])).toBeGreaterThan(0);
    expect((await other.call('GET', '/api/appliance/status')).status).toBe(200);
    // Once the delay has passed, the right current password changes it.
    await until(async () => (await change(ADMIN_PASSWORD)).status === 204, 60_000, 'the change');
    // The other session ended; the one that changed it goes on; the new password signs in.
    expect((await other.call('GET', '/api/appliance/status')).status).toBe(401);
    expect((await t.api.call('GET', '/api/appliance/status')).status).toBe(200);
    const again = client();
    await again.signIn('appliance', 'admin', NEW_PASSWORD);
    const back = await t.api.call('PUT', '/api/appliance/account/password', {
      json: { currentPassword: NEW_PASSWORD, newPassword: ADMIN_PASSWORD },
    });
    expect(back.status).toBe(204);
  });

  it('refuses a File Store name with a bidirectional control character, naming the field', async () => {
    const disguised = 'invoice\u202Efdp.exe';
    const res = await t.api.call<Problem>(
      'PUT',
      `/api/login/files/${encodeURIComponent(disguised)}`,
      {
        raw: Buffer.from('MZ'),
      },
    );
    expect(res.status).toBe(400);
    expect(res.body.errors![0]!.field).toBe('name');
    expect(res.body.errors![0]!.message).toMatch(/bidirectional control characters/);
    const list = await t.api.call<{ files: { name: string }[] }>('GET', '/api/login/files');
    expect(list.body.files.map((f) => f.name)).not.toContain(disguised);
    // Also the isolates (U+2066-U+2069) and marks (U+200E/F).
    for (const c of ['\u2067', '\u200f']) {
      const r = await t.api.call('PUT', `/api/login/files/${encodeURIComponent(`a${c}b.txt`)}`, {
        raw: Buffer.from('x'),
      });
      expect(r.status, c.codePointAt(0)!.toString(16)).toBe(400);
    }
  });

  it("the traffic switch's command provider runs currentArgv at most once per 30 s, however many read it", async () => {
    const dir = tempDir('gh-current-argv-');
    const runs = path.join(dir, 'runs.log');
    const script = path.join(dir, 'current.sh');
    writeFileSync(script, `#!/bin/sh\necho run >> '${runs}'\necho 127.0.0.1\n`);
    chmodSync(script, 0o755);
    const set = await t.api.call('PUT', '/api/appliance/traffic', {
      json: { provider: 'command', argv: ['/bin/true'], currentArgv: [script] },
    });
    expect(set.status).toBe(200);
    const started = Date.now();
    const read = () =>
      t.api.call<{ current: { address: string } | null }>('GET', '/api/appliance/traffic');
    // Many readers at once, then one after another.
    const answers = await Promise.all(Array.from({ length: 10 }, read));
    for (let i = 0; i < 10; i++) answers.push(await read());
    const windows = 1 + Math.floor((Date.now() - started) / 30_000);
    expect(answers.every((a) => a.body.current?.address === '127.0.0.1')).toBe(true);
    const count = existsSync(runs) ? readFileSync(runs, 'utf8').trim().split('\n').length : 0;
    expect(count).toBeGreaterThanOrEqual(1);
    expect(count).toBeLessThanOrEqual(windows);
  });

  it('wrong session keys from one address do not keep a customer at another address out', async () => {
    const rep = await t.anon.call<{ ticket: string }>('POST', '/api/client/console/sign-in', {
      json: { username: 'admin', password: LOGIN_PASSWORD, version: PRODUCT_VERSION },
      auth: 'none',
    });
    expect(rep.status).toBe(201);
    const issued = await t.anon.call<{ key: string }>('POST', '/api/client/session-keys', {
      headers: { authorization: `Bearer ${rep.body.ticket}` },
      auth: 'none',
    });
    expect(issued.status).toBe(201);
    const join = (c: ApplianceClient, key: string) =>
      c.call<Problem>('POST', '/api/client/customers/join', {
        json: { key, version: PRODUCT_VERSION },
        auth: 'none',
      });
    const guesser = client('127.0.0.2');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++)
      statuses.push((await join(guesser, String(10_000_000 + i))).status);
    expect(statuses.at(-1)).toBe(429);
    // The guesser is refused even the right key; the customer, at another address, is let in.
    expect((await join(guesser, issued.body.key)).status).toBe(429);
    const customer = await join(client('127.0.0.3'), issued.body.key);
    expect(customer.status).toBe(201);
  });
});
