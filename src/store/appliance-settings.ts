import type { Db } from './db.js';

/*
 * This appliance's own settings (`appliance_settings`, one of APPLIANCE_TABLES): a JSON value
 * by key, kept across restarts and never synchronised to a peer or node. Each domain keeps its
 * own keys here (the failover relationship, the traffic switch, update settings, …).
 */

export function readApplianceSetting<T>(db: Db, key: string): T | undefined {
  const row = db.prepare('SELECT value FROM appliance_settings WHERE key = ?').get(key) as
    { value: string } | undefined;
  return row ? (JSON.parse(row.value) as T) : undefined;
}

export function writeApplianceSetting(db: Db, key: string, value: unknown, at = Date.now()): void {
  db.prepare(
    `INSERT INTO appliance_settings (key, value, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  ).run(key, JSON.stringify(value), at);
}

/** Remove a setting; whether there was one. */
export function deleteApplianceSetting(db: Db, key: string): boolean {
  return db.prepare('DELETE FROM appliance_settings WHERE key = ?').run(key).changes > 0;
}

/** One of this appliance's own settings, under its key: what a domain's setting class extends. */
export class ApplianceSetting<T> {
  constructor(
    protected readonly db: Db,
    private readonly key: string,
  ) {}

  get(): T | undefined {
    return readApplianceSetting<T>(this.db, this.key);
  }

  protected write(value: T): void {
    writeApplianceSetting(this.db, this.key, value);
  }

  /** Remove it; whether there was one. */
  protected delete(): boolean {
    return deleteApplianceSetting(this.db, this.key);
  }
}
