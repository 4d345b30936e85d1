import { randomBytes, randomInt } from 'node:crypto';
import { GatehouseError } from '../shared/errors.js';

/** How long a session key waits for its customer. */
export const SESSION_KEY_MS = 20 * 60_000;
/** Keys waiting per representative: an old one is dropped for a new one beyond this. */
const PER_REPRESENTATIVE = 20;
const DIGITS = 8;
/** Wrong keys the whole site takes per minute, whatever their addresses; then it refuses all. */
const SITE_FAILURES_PER_MINUTE = 60;
/** A join repeated with the same nonce (its answer was lost) gets the same result this long. */
const REPEAT_MS = 60_000;

export interface IssuedKey {
  key: string;
  /** The name the customer client will have on the site. */
  name: string;
  expiresAt: number;
}

interface Waiting {
  representative: string;
  name: string;
  expiresAt: number;
  /** Set once used: a repeat of that join (same nonce) gets the same answer for a while. */
  used?: { nonce: string; until: number };
}

/**
 * Session keys: a representative gives one to a customer, whose customer client joins the
 * site with it (once, within SESSION_KEY_MS) and is then that representative's to start
 * sessions through. Eight digits, to be read out over the phone; kept in memory on the
 * appliance that issued them (the site), so a key not used before a failover or a restart is
 * simply asked for again. The customer client's name is random, not the key: it appears in
 * logs and lists while the key must not.
 */
export class CustomerKeys {
  private readonly keys = new Map<string, Waiting>();
  private failures: number[] = [];

  /**
   * A new key for `representative`. `taken` tells whether a name is already in use on the
   * site (a connected client's).
   */
  issue(representative: string, taken: (name: string) => boolean, now = Date.now()): IssuedKey {
    this.prune(now);
    const mine = [...this.keys].filter(([, v]) => v.representative === representative && !v.used);
    for (const [key] of mine.slice(0, Math.max(0, mine.length - PER_REPRESENTATIVE + 1)))
      this.keys.delete(key);
    let key: string;
    do key = String(randomInt(10 ** (DIGITS - 1), 10 ** DIGITS));
    while (this.keys.has(key));
    let name: string;
    do name = customerClientName();
    while (taken(name) || [...this.keys.values()].some((v) => v.name === name));
    const expiresAt = now + SESSION_KEY_MS;
    this.keys.set(key, { representative, name, expiresAt });
    return { key, name, expiresAt };
  }

  /**
   * Use a key: its representative and the customer client's name, once. A join repeated with
   * the same `nonce` shortly after (its answer was lost on the way) gets the same. A clear 401
   * for an unknown, used or expired key; a 429 once the site has seen too many wrong keys.
   */
  redeem(
    given: string,
    nonce: string | undefined,
    now = Date.now(),
  ): { representative: string; name: string } {
    this.prune(now);
    this.failures = this.failures.filter((t) => t > now - 60_000);
    if (this.failures.length >= SITE_FAILURES_PER_MINUTE)
      throw new GatehouseError(
        'SESSION_KEYS_THROTTLED',
        429,
        'This site has refused too many wrong session keys in the last minute; try again in a minute.',
      );
    const found = this.keys.get(normalise(given));
    const repeat = found?.used && nonce && found.used.nonce === nonce && found.used.until > now;
    if (!found || (found.used && !repeat)) {
      this.failures.push(now);
      throw new GatehouseError(
        'SESSION_KEY_WRONG',
        401,
        'key: is not a session key waiting on this site (each key works once, for 20 minutes). Ask your representative for a new one.',
        { fields: [{ field: 'key', message: 'is unknown, used or expired' }] },
      );
    }
    // Kept (used) until it expires, so that a repeat can be answered and the key is not reissued.
    found.used ??= { nonce: nonce ?? '', until: now + REPEAT_MS };
    return { representative: found.representative, name: found.name };
  }

  private prune(now: number): void {
    for (const [k, v] of this.keys) if (v.expiresAt <= now) this.keys.delete(k);
  }
}

/** "1234 5678", "1234-5678" and "12345678" are the same key. */
export function normalise(key: string): string {
  return key.replace(/[\s-]/g, '');
}

export const CUSTOMER_PREFIX = 'customer-';
const customerClientName = () => `${CUSTOMER_PREFIX}${randomBytes(4).toString('hex')}`;
