import { randomBytes, randomInt } from 'node:crypto';
import { sessionsErrors } from './error-codes.js';

/** How long a session key waits for its customer. */
export const SESSION_KEY_MS = 20 * 60_000;
/** Keys waiting per representative: an old one is dropped for a new one beyond this. */
const PER_REPRESENTATIVE = 20;
const DIGITS = 8;
/** Wrong keys one address may send per minute. */
const ADDRESS_FAILURES_PER_MINUTE = 10;
/**
 * Wrong keys the whole site takes per minute; beyond it, only addresses that sent a wrong key
 * within the minute are refused, so guessers from many addresses cannot lock every customer out.
 */
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
  /** Times of wrong keys within the last minute, by address. */
  private readonly failures = new Map<string, number[]>();

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
    ip: string,
    now = Date.now(),
  ): { representative: string; name: string } {
    this.prune(now);
    this.refuseGuesser(ip, now);
    const found = this.keys.get(normalise(given));
    const repeat = found?.used && nonce && found.used.nonce === nonce && found.used.until > now;
    if (!found || (found.used && !repeat)) {
      this.failures.set(ip, [...(this.failures.get(ip) ?? []), now]);
      throw sessionsErrors.SESSION_KEY_WRONG(
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
    for (const [ip, times] of this.failures) {
      const recent = times.filter((t) => t > now - 60_000);
      if (recent.length) this.failures.set(ip, recent);
      else this.failures.delete(ip);
    }
  }

  /** A 429 for an address that sent too many wrong keys, or any wrong key while the site is under a flood of them. */
  private refuseGuesser(ip: string, now: number): void {
    const mine = this.failures.get(ip)?.length ?? 0;
    if (mine === 0) return;
    let site = 0;
    for (const times of this.failures.values()) site += times.length;
    if (mine < ADDRESS_FAILURES_PER_MINUTE && site < SITE_FAILURES_PER_MINUTE) return;
    const retry = Math.max(1, Math.ceil((this.failures.get(ip)![0]! + 60_000 - now) / 1000));
    throw sessionsErrors.SESSION_KEYS_THROTTLED(
      `Too many wrong session keys from ${ip}${mine < ADDRESS_FAILURES_PER_MINUTE ? ' while this site refuses many from elsewhere' : ''}; try again in ${retry} s.`,
      { headers: { 'retry-after': String(retry) } },
    );
  }
}

/** "1234 5678", "1234-5678" and "12345678" are the same key. */
export function normalise(key: string): string {
  return key.replace(/[\s-]/g, '');
}

export const CUSTOMER_PREFIX = 'customer-';
const customerClientName = () => `${CUSTOMER_PREFIX}${randomBytes(4).toString('hex')}`;
