import { randomInt } from 'node:crypto';
import { GatehouseError } from '../shared/errors.js';

/** How long a session key waits for its customer. */
export const SESSION_KEY_MS = 20 * 60_000;
/** Keys waiting per representative: an old one is dropped for a new one beyond this. */
const PER_REPRESENTATIVE = 20;
const DIGITS = 8;

export interface IssuedKey {
  key: string;
  expiresAt: number;
}

/**
 * Session keys: a representative gives one to a customer, whose customer client joins the
 * site with it (once, within SESSION_KEY_MS) and is then that representative's to start
 * sessions through. Eight digits, to be read out over the phone; kept in memory on the
 * appliance that issued them (the site), so a key not used before a failover or a restart is
 * simply asked for again.
 */
export class CustomerKeys {
  private readonly keys = new Map<string, { representative: string; expiresAt: number }>();

  /**
   * A new key for `representative`. `taken` tells whether a name is already in use on the
   * site (a customer client that joined with the same digits earlier and is still connected).
   */
  issue(representative: string, taken: (key: string) => boolean, now = Date.now()): IssuedKey {
    this.prune(now);
    const mine = [...this.keys].filter(([, v]) => v.representative === representative);
    for (const [key] of mine.slice(0, Math.max(0, mine.length - PER_REPRESENTATIVE + 1)))
      this.keys.delete(key);
    let key: string;
    do key = String(randomInt(10 ** (DIGITS - 1), 10 ** DIGITS));
    while (this.keys.has(key) || taken(key));
    const expiresAt = now + SESSION_KEY_MS;
    this.keys.set(key, { representative, expiresAt });
    return { key, expiresAt };
  }

  /** Use a key: its representative, once. A clear 401 for an unknown, used or expired key. */
  redeem(given: string, now = Date.now()): { key: string; representative: string } {
    this.prune(now);
    const key = normalise(given);
    const found = this.keys.get(key);
    if (!found)
      throw new GatehouseError(
        'SESSION_KEY_WRONG',
        401,
        'key: is not a session key waiting on this site (each key works once, for 20 minutes). Ask your representative for a new one.',
        { fields: [{ field: 'key', message: 'is unknown, used or expired' }] },
      );
    this.keys.delete(key);
    return { key, representative: found.representative };
  }

  private prune(now: number): void {
    for (const [k, v] of this.keys) if (v.expiresAt <= now) this.keys.delete(k);
  }
}

/** "1234 5678", "1234-5678" and "12345678" are the same key. */
export function normalise(key: string): string {
  return key.replace(/[\s-]/g, '');
}

/** The name a customer client has on the site: from its key, which its representative knows. */
export const customerClientName = (key: string) => `customer-${key}`;
