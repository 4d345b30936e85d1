import { describe, expect, it } from 'vitest';
import type { Problem } from '../src/shared/errors.js';
import { LOGIN_PASSWORD, startTestAppliance } from './support/appliance.js';

const CONFIRM = { 'x-gatehouse-confirm-overwrite': 'true' };

describe('an upgrade in progress on the old primary (S23)', () => {
  it('refuses every /login change without the confirmation flag, naming it, and changes nothing; the flag lets it through; clearing the mark ends it', async () => {
    const t = await startTestAppliance({ name: 'notice-a' });
    const siteName = async () =>
      (await t.api.call<{ siteName: string }>('GET', '/api/login/settings')).body.siteName;
    const rename = (siteName: string, headers: Record<string, string> = {}) =>
      t.api.call<Problem>('PATCH', '/api/login/settings', { json: { siteName }, headers });

    // Bad input names the field and marks nothing.
    const bad = await t.api.call<Problem>('PUT', '/api/appliance/upgrade-in-progress', {
      json: { by: '' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0]?.field).toBe('by');
    expect(
      (await t.api.call<{ upgrade: unknown }>('GET', '/api/appliance/upgrade-in-progress')).body
        .upgrade,
    ).toBeNull();

    const mark = await t.api.call<{ upgrade: { by: string; since: number } }>(
      'PUT',
      '/api/appliance/upgrade-in-progress',
      { json: { by: 'gatehouse upgrade', note: 'asynchronous upgrade; notice-b becomes primary' } },
    );
    expect(mark.status).toBe(200);
    expect(mark.body.upgrade.by).toBe('gatehouse upgrade');

    const before = await siteName();
    const refused = await rename('Changed during the upgrade');
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('UPGRADE_CHANGE_NOT_CONFIRMED');
    expect(refused.body.errors?.[0]?.field).toBe('X-Gatehouse-Confirm-Overwrite');
    expect(refused.body.detail).toContain('overwritten by the first sync after the upgrade');
    expect(await siteName()).toBe(before);
    // Other changes of site data too (a user), not only settings.
    const user = await t.api.call<Problem>('POST', '/api/login/users', {
      json: { username: 'late-user', password: 'A-long-enough-password-1', role: 'representative' },
    });
    expect(user.status).toBe(409);
    expect(user.body.code).toBe('UPGRADE_CHANGE_NOT_CONFIRMED');
    // Reading, signing in, and the appliance's own settings need no confirmation.
    expect((await t.anon.signIn('login', 'admin', LOGIN_PASSWORD)).token).toBeTruthy();
    expect((await t.api.call('GET', '/api/login/users')).status).toBe(200);

    const confirmed = await rename('Changed knowingly', CONFIRM);
    expect(confirmed.status).toBe(200);
    expect(await siteName()).toBe('Changed knowingly');

    // The mark outlives a restart (the orchestrator may be away between the windows).
    await t.restart();
    expect((await rename('Again')).status).toBe(409);

    const cleared = await t.api.call<{ cleared: boolean }>(
      'DELETE',
      '/api/appliance/upgrade-in-progress',
    );
    expect(cleared.body.cleared).toBe(true);
    expect((await rename('After the upgrade')).status).toBe(200);
    expect(await siteName()).toBe('After the upgrade');
  }, 90_000);
});
