import type { Db } from '../../store/db.js';
import type { EventLog } from '../../site/events.js';
import type { Area } from '../../shared/http/operations.js';

/**
 * Unlocks are times in appliance_settings: sign-in failures before them are forgotten. The
 * running appliance reads them at every attempt, so `gatehouse appliance unlock` works on the
 * database of a running appliance as well as of a stopped one.
 */
const EVERYTHING = 'auth.unlocked_at';
const ADDRESSES = 'auth.unlocked_at.addresses';
const accountKey = (area: Area, username: string) =>
  `auth.unlocked_at:${area}:${username.toLowerCase()}`;
const areaKey = (area: Area) => `auth.unlocked_at:${area}:*`;

function latest(db: Db, keys: string[]): number {
  const row = db
    .prepare(
      `SELECT max(CAST(value AS INTEGER)) AS at FROM appliance_settings WHERE key IN (${keys.map(() => '?').join(', ')})`,
    )
    .get(...keys) as { at: number | null };
  return row.at ?? 0;
}

/** When the strikes of this account were last lifted. */
export const accountUnlockedAt = (db: Db, area: Area, username: string) =>
  latest(db, [EVERYTHING, areaKey(area), accountKey(area, username)]);

/** When the strikes of addresses were last lifted. */
export const addressesUnlockedAt = (db: Db) => latest(db, [EVERYTHING, ADDRESSES]);

/**
 * Lift the backoff of accounts (every one, those of one area, or one username) and of every
 * address, at once.
 */
export function unlockSignIns(
  db: Db,
  events: EventLog,
  opts: { area?: Area; username?: string },
  now = Date.now(),
): string[] {
  const areas = opts.area ? [opts.area] : (['appliance', 'login'] as const);
  const keys = opts.username
    ? [...areas.map((a) => accountKey(a, opts.username!)), ADDRESSES]
    : opts.area
      ? [areaKey(opts.area), ADDRESSES]
      : [EVERYTHING];
  const lifted = areas.map((a) => `/${a} ${opts.username ? `"${opts.username}"` : 'accounts'}`);
  db.transaction(() => {
    for (const key of keys) {
      db.prepare(
        `INSERT INTO appliance_settings (key, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      ).run(key, String(now), now);
    }
    events.record(
      { area: 'system', name: 'gatehouse appliance unlock' },
      'auth.unlocked',
      opts.username ?? '*',
      {
        area: opts.area ?? 'both',
      },
    );
  })();
  return lifted;
}
