/**
 * Failed sign-ins slow guessing by exponential backoff rather than by a lock: after `free`
 * failures each further one blocks the next attempt for twice as long as the last (from 5 s),
 * up to `capMs`. An attempt during the backoff counts too: hammering only lengthens it. Blocks apply to strangers only; see SignInGuard for who passes.
 */
export interface BackoffPolicy {
  /** Failures allowed before the first delay. */
  free: number;
  /** The longest delay. */
  capMs: number;
}

const FIRST_DELAY_MS = 5_000;

/** After this long without a failure, earlier failures are forgotten. */
export const FORGET_AFTER_MS = 24 * 3600_000;

/** How long a key (account or address) is blocked after its `failures`-th failure. */
export function delayAfter(failures: number, policy: BackoffPolicy): number {
  if (failures < policy.free) return 0;
  return Math.min(policy.capMs, FIRST_DELAY_MS * 2 ** Math.min(30, failures - policy.free));
}

export interface Strikes {
  failures: number;
  /** When the last failure happened. */
  at: number;
  blockedUntil: number;
}

/**
 * Strikes kept in memory, per key: addresses, and usernames that have no account (so that an
 * unknown username is slowed exactly like a real one and the answers cannot tell them apart).
 * Bounded: the oldest key goes when the table is full, so a flood of names cannot fill memory.
 */
export class StrikeTable {
  private readonly strikes = new Map<string, Strikes>();

  constructor(private readonly maxKeys = 10_000) {}

  /** The key's strikes, or none once they are forgotten or were cleared at `clearedAt`. */
  get(key: string, now: number, clearedAt = 0): Strikes | undefined {
    const s = this.strikes.get(key);
    if (s && (now - s.at > FORGET_AFTER_MS || s.at <= clearedAt)) {
      this.strikes.delete(key);
      return undefined;
    }
    return s;
  }

  fail(key: string, policy: BackoffPolicy, now: number, clearedAt = 0): Strikes {
    const failures = (this.get(key, now, clearedAt)?.failures ?? 0) + 1;
    const s = { failures, at: now, blockedUntil: now + delayAfter(failures, policy) };
    this.strikes.delete(key);
    this.strikes.set(key, s);
    if (this.strikes.size > this.maxKeys) this.strikes.delete(this.strikes.keys().next().value!);
    return s;
  }

  clear(key: string): void {
    this.strikes.delete(key);
  }
}
