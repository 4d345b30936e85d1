import { describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../store/db.js';
import { EventLog } from './events.js';
import { DEFAULT_SITE_SETTINGS, SiteSettingsService } from './settings.js';

const service = () => {
  const db = openDatabase(':memory:');
  migrate(db);
  return { db, settings: new SiteSettingsService(db, new EventLog(db, 'test')) };
};
const actor = { area: 'login', name: 'admin', ip: '127.0.0.1' } as const;

describe('site settings', () => {
  it('see a row written past the service (a restore, a sync) at the next read', () => {
    const { db, settings } = service();
    expect(settings.get().sessionIdleMinutes).toBe(DEFAULT_SITE_SETTINGS.sessionIdleMinutes);
    const write = db.prepare(
      `INSERT INTO site_settings (key, value, updated_at) VALUES (?, ?, 0)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
    write.run('sessionIdleMinutes', '5');
    expect(settings.get().sessionIdleMinutes).toBe(5);
    write.run('sessionIdleMinutes', '7');
    expect(settings.get().sessionIdleMinutes).toBe(7);
    db.prepare('DELETE FROM site_settings WHERE key = ?').run('sessionIdleMinutes');
    expect(settings.get().sessionIdleMinutes).toBe(DEFAULT_SITE_SETTINGS.sessionIdleMinutes);
  });

  it('fall back to the default for a stored value out of range, and follow updates', () => {
    const { db, settings } = service();
    db.prepare(
      "INSERT INTO site_settings (key, value, updated_at) VALUES ('passwordMinLength', '2', 0)",
    ).run();
    expect(settings.get().passwordMinLength).toBe(DEFAULT_SITE_SETTINGS.passwordMinLength);
    expect(settings.update(actor, { passwordMinLength: 16 }).passwordMinLength).toBe(16);
    expect(settings.get().passwordMinLength).toBe(16);
  });

  it('give each caller its own copy', () => {
    const { settings } = service();
    const mine = settings.get();
    mine.siteName = 'changed by a caller';
    expect(settings.get().siteName).toBe(DEFAULT_SITE_SETTINGS.siteName);
  });
});
