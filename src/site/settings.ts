import { z } from 'zod';
import { wholeNumber } from '../shared/whole-number.js';
import type { Db } from '../store/db.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from './events.js';

/** The /login configuration settings of a site, with their defaults and limits. */
export const SiteSettingsSchema = z.object({
  siteName: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(100, 'must be at most 100 characters'),
  siteHostname: z
    .string()
    .trim()
    .max(253, 'must be at most 253 characters')
    .regex(
      /^$|^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/,
      'must be a DNS name such as support.example.com',
    ),
  loginBanner: z.string().max(2000, 'must be at most 2000 characters'),
  passwordMinLength: wholeNumber(8, 128),
  loginMaxFailures: wholeNumber(3, 50),
  lockoutMinutes: wholeNumber(1, 1440, { max: 'one day' }),
  sessionIdleMinutes: wholeNumber(5, 1440, { max: 'one day' }),
  fileStoreMaxMiB: wholeNumber(1, 16384),
  // S13: Jump Clients upgrade themselves to the site's build in waves (src/sessions/jump-client-upgrades.ts).
  jumpClientUpgradeWaveSize: wholeNumber(0, 1000, {
    min: '0 turns automatic Jump Client upgrades off',
  }),
  jumpClientUpgradeCanaryGroup: z
    .string()
    .trim()
    .regex(/^$|^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a Jump Client group name, or empty'),
  jumpClientUpgradeCanarySize: wholeNumber(0, 100),
  jumpClientUpgradeReturnSeconds: wholeNumber(5, 3600, { max: 'an hour' }),
});
export type SiteSettings = z.infer<typeof SiteSettingsSchema>;
export const SiteSettingsPatch = SiteSettingsSchema.partial().strict();
export type SiteSettingsPatch = z.infer<typeof SiteSettingsPatch>;

export const DEFAULT_SITE_SETTINGS: SiteSettings = {
  siteName: 'Gatehouse',
  siteHostname: '',
  loginBanner: '',
  passwordMinLength: 12,
  loginMaxFailures: 5,
  lockoutMinutes: 15,
  sessionIdleMinutes: 30,
  fileStoreMaxMiB: 512,
  jumpClientUpgradeWaveSize: 10,
  jumpClientUpgradeCanaryGroup: 'canary',
  jumpClientUpgradeCanarySize: 1,
  jumpClientUpgradeReturnSeconds: 300,
};

interface StoredSetting {
  key: string;
  value: string;
}

const sameRows = (a: StoredSetting[], b: StoredSetting[]) =>
  a.length === b.length && a.every((r, i) => r.key === b[i]!.key && r.value === b[i]!.value);

function parseSettings(rows: StoredSetting[]): SiteSettings {
  const stored: Record<string, unknown> = {};
  for (const r of rows) stored[r.key] = JSON.parse(r.value);
  // Unknown or out-of-range stored values (e.g. from a restore) fall back to defaults.
  const merged = { ...DEFAULT_SITE_SETTINGS };
  for (const key of Object.keys(DEFAULT_SITE_SETTINGS) as (keyof SiteSettings)[]) {
    const one = SiteSettingsSchema.shape[key].safeParse(stored[key]);
    if (one.success && stored[key] !== undefined)
      (merged as Record<string, unknown>)[key] = one.data;
  }
  return merged;
}

export class SiteSettingsService {
  /** The rows last read and what they parsed to (see get). */
  private last?: { rows: StoredSetting[]; settings: SiteSettings };

  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  /**
   * The settings as stored now. Every signed-in request reads them (the idle timeout), and
   * validating them costs far more than the query (a failed parse, with its error, per setting
   * left at its default): the rows are read each time, since restores, syncs and other
   * services write them too, but parsed again only when they differ from the last read.
   */
  get(): SiteSettings {
    const rows = this.db
      .prepare('SELECT key, value FROM site_settings ORDER BY key')
      .all() as StoredSetting[];
    if (!this.last || !sameRows(this.last.rows, rows))
      this.last = { rows, settings: parseSettings(rows) };
    // A copy: a caller that changes its settings object must not change the next caller's.
    return { ...this.last.settings };
  }

  /** Apply a validated patch; records which keys changed (values of settings are not secret). */
  update(actor: Actor, patch: SiteSettingsPatch): SiteSettings {
    const before = this.get();
    const changed = Object.entries(patch).filter(
      ([k, v]) => v !== undefined && before[k as keyof SiteSettings] !== v,
    );
    if (changed.length === 0) return before;
    const upsert = this.db.prepare(
      `INSERT INTO site_settings (key, value, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    this.db.transaction(() => {
      const now = Date.now();
      for (const [k, v] of changed) upsert.run(k, JSON.stringify(v), now);
      this.events.record(actor, 'settings.updated', 'site', {
        changes: Object.fromEntries(
          changed.map(([k, v]) => [k, { from: before[k as keyof SiteSettings], to: v }]),
        ),
      });
    })();
    return this.get();
  }
}
