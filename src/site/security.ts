import { z } from 'zod';
import type { Db } from '../store/db.js';
import { randomToken, sha256Hex } from '../shared/crypto.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from './events.js';

export const InterApplianceKeyValue = z
  .string({ message: 'is required' })
  .regex(
    /^[A-Za-z0-9_-]{32,128}$/,
    "must be 32-128 characters of letters, digits, '_' or '-' (copy it from the other appliance's Security page)",
  );

const KEY = 'inter_appliance_key';

/**
 * The Inter-Appliance key of Management > Security: two appliances talk only when theirs
 * match. It belongs to this appliance (never synchronised or backed up) and is never logged:
 * events carry only a short fingerprint of it.
 */
export class InterApplianceKey {
  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  get(): string {
    const row = this.db.prepare('SELECT value FROM appliance_settings WHERE key = ?').get(KEY) as
      { value: string } | undefined;
    if (!row)
      throw new Error('Inter-Appliance key missing: the data directory was not initialised');
    return row.value;
  }

  static fingerprint(key: string): string {
    return sha256Hex(key).slice(0, 16);
  }

  fingerprint(): string {
    return InterApplianceKey.fingerprint(this.get());
  }

  regenerate(actor: Actor): string {
    return this.write(actor, randomToken(32), 'security.inter_appliance_key.regenerated');
  }

  set(actor: Actor, value: string): string {
    return this.write(actor, value, 'security.inter_appliance_key.set');
  }

  /** Used by `init`, before any actor exists. */
  initialise(value = randomToken(32)): void {
    this.db
      .prepare('INSERT INTO appliance_settings (key, value, updated_at) VALUES (?, ?, ?)')
      .run(KEY, value, Date.now());
  }

  private write(actor: Actor, value: string, action: string): string {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO appliance_settings (key, value, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        )
        .run(KEY, value, Date.now());
      this.events.record(actor, action, 'inter-appliance key', {
        fingerprint: InterApplianceKey.fingerprint(value),
      });
    })();
    return value;
  }
}
