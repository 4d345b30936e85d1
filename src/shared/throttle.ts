import { sharedErrors } from './error-codes.js';

/**
 * Per-address sign-in throttle: after `limit` failures within `windowMs`, further attempts from
 * that address are refused until the window moves on. Account lockout is separate (stored).
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit = 20,
    private readonly windowMs = 60_000,
  ) {}

  private recent(ip: string, now: number): number[] {
    const list = (this.failures.get(ip) ?? []).filter((t) => t > now - this.windowMs);
    if (list.length) this.failures.set(ip, list);
    else this.failures.delete(ip);
    return list;
  }

  check(ip: string, now = Date.now()): void {
    const list = this.recent(ip, now);
    if (list.length >= this.limit) {
      const retry = Math.ceil((list[0]! + this.windowMs - now) / 1000);
      throw sharedErrors.AUTH_THROTTLED(
        `Too many failed sign-ins from ${ip}. Wait ${retry} s before trying again.`,
        { headers: { 'retry-after': String(retry) } },
      );
    }
  }

  fail(ip: string, now = Date.now()): void {
    this.recent(ip, now).push(now);
    if (!this.failures.has(ip)) this.failures.set(ip, [now]);
  }
}
