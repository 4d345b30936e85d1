import { describe, expect, it } from 'vitest';
import { generateEd25519 } from '../../src/shared/crypto.js';
import type { Problem } from '../../src/shared/errors.js';
import { PRODUCT_VERSION } from '../../src/shared/version.js';
import { LOGIN_PASSWORD, startTestAppliance } from '../support/appliance.js';

const PASSWORD = 'Restore-Proof-Pass-31';

/**
 * Issue 18: a backup taken before a revocation, restored after it, must not bring the revoked
 * credential back (src/site/keep-revocations.ts). Before that rule, the restore put
 * back the users' ticket generations, their enabled flag, the installation's unrevoked row and
 * the deleted enrolment token: every assertion marked "revoked" below failed.
 */
describe('a restore keeps revocations made since the backup', () => {
  it('console tickets, disabled and deleted users, revoked installations and deleted tokens stay revoked', async () => {
    const t = await startTestAppliance({ name: 'restore-revocations' });
    const users = ['rr.disabled', 'rr.deleted', 'rr.password', 'rr.untouched'];
    for (const username of users)
      expect(
        (
          await t.api.call('POST', '/api/login/users', {
            json: { username, displayName: username, password: PASSWORD },
          })
        ).status,
      ).toBe(201);
    const consoleSignIn = (username: string, password = PASSWORD) =>
      t.anon.call<{ ticket: string } & Problem>('POST', '/api/client/console/sign-in', {
        json: { username, password, version: PRODUCT_VERSION },
        auth: 'none',
      });
    const withTicket = (ticket: string) =>
      t.anon.call<Problem>('GET', '/api/client/jump-clients', {
        headers: { authorization: `Bearer ${ticket}` },
        auth: 'none',
      });
    const tickets = new Map<string, string>();
    for (const u of users) tickets.set(u, (await consoleSignIn(u)).body.ticket);
    for (const u of users) expect((await withTicket(tickets.get(u)!)).status, u).toBe(200);

    // A Jump Client installation, and an enrolment token with a use left.
    const token = await t.api.call<{ token: string; id: string }>(
      'POST',
      '/api/login/jump-clients/tokens',
      { json: { uses: 2 } },
    );
    expect(token.status).toBe(201);
    const enrol = (name: string) =>
      t.anon.call<{ installation: { id: string } } & Problem>(
        'POST',
        '/api/client/jump-clients/enrol',
        {
          json: {
            name,
            token: token.body.token,
            publicKey: generateEd25519().publicKeyPem,
            version: PRODUCT_VERSION,
          },
          auth: 'none',
        },
      );
    const installation = (await enrol('rr-jump-01')).body.installation.id;

    const backup = await t.api.call<Buffer>('GET', '/api/appliance/backup');
    expect(backup.status).toBe(200);

    // The revocations, after the backup.
    await t.api.call('PATCH', '/api/login/users/rr.disabled', { json: { disabled: true } });
    await t.api.call('DELETE', '/api/login/users/rr.deleted');
    await t.api.call('PATCH', '/api/login/users/rr.password', {
      json: { password: 'Changed-After-Backup-7' },
    });
    const revoked = await t.api.call(
      'POST',
      `/api/login/jump-clients/installations/${installation}/revoke`,
    );
    expect(revoked.status).toBe(200);
    expect(
      (await t.api.call('DELETE', `/api/login/jump-clients/tokens/${token.body.id}`)).status,
    ).toBeLessThan(300);

    const restored = await t.api.call('POST', '/api/appliance/backup/restore', {
      raw: backup.body,
    });
    expect(restored.status).toBe(200);
    await t.api.signIn('login', 'admin', LOGIN_PASSWORD);

    // Revoked: every console ticket from before the restore (the untouched user's too).
    for (const u of users) {
      const res = await withTicket(tickets.get(u)!);
      expect(res.status, u).toBe(401);
      expect(res.body.code, u).toBe('CLIENT_TICKET_REVOKED');
    }
    // Revoked: the disabled user stays disabled; the deleted one is back, disabled.
    const list = (
      await t.api.call<{ users: { username: string; disabled: boolean }[] }>(
        'GET',
        '/api/login/users',
      )
    ).body.users;
    const disabled = (u: string) => list.find((x) => x.username === u)?.disabled;
    expect(disabled('rr.disabled')).toBe(true);
    expect(disabled('rr.deleted')).toBe(true);
    for (const u of ['rr.disabled', 'rr.deleted'])
      expect((await consoleSignIn(u)).body.code, u).toBe('AUTH_ACCOUNT_DISABLED');
    // The restore is a restore: the others are as in the backup and sign in again.
    expect(disabled('rr.untouched')).toBe(false);
    expect((await consoleSignIn('rr.untouched')).status).toBe(201);
    expect((await consoleSignIn('rr.password')).status).toBe(201);
    // Revoked: the installation, and the deleted enrolment token.
    const installations = (
      await t.api.call<{ installations: { id: string; revokedAt: string | null }[] }>(
        'GET',
        '/api/login/jump-clients/installations',
      )
    ).body.installations;
    expect(installations.find((i) => i.id === installation)?.revokedAt).not.toBeNull();
    const again = await enrol('rr-jump-02');
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.body.code).toMatch(/TOKEN/);
  }, 180_000);
});
