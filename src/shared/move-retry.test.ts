import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, followPause, MoveFollowing, retryAfterMs, TryLimit } from './move-retry.js';

const many = (f: () => number) => Array.from({ length: 1_000 }, f);

describe('move retry', () => {
  afterEach(() => vi.useRealTimers());

  it('follows a move at 125-375 ms, spread out rather than in step', () => {
    const pauses = many(() => followPause());
    expect(Math.min(...pauses)).toBeGreaterThanOrEqual(125);
    expect(Math.max(...pauses)).toBeLessThanOrEqual(375);
    expect(new Set(pauses.map(Math.round)).size).toBeGreaterThan(50);
  });

  it('follows for its window from the move, then no longer', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const following = new MoveFollowing(15_000);
    expect(following.active).toBe(false);
    following.begin(Date.now() - 5_000);
    vi.advanceTimersByTime(9_999);
    expect(following.active).toBe(true);
    vi.advanceTimersByTime(1);
    expect(following.active).toBe(false);
    following.begin();
    following.end();
    expect(following.active).toBe(false);
  });

  it('backs off twice as long each time up to its limit, spread, and starts over on reset', () => {
    const exact = new Backoff({ minMs: 250, maxMs: 2_000, spread: 0 });
    expect([1, 2, 3, 4, 5].map(() => exact.next())).toEqual([250, 500, 1_000, 2_000, 2_000]);
    exact.reset();
    expect(exact.next()).toBe(250);
    const spread = many(() => new Backoff({ minMs: 1_000, maxMs: 30_000 }).next());
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(750);
    expect(Math.max(...spread)).toBeLessThanOrEqual(1_250);
  });

  it("honours a busy server's Retry-After within ±10 % and the limit, and nothing else", () => {
    const waits = many(() => retryAfterMs({ headers: { 'retry-after': '2' } }, 30_000)!);
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(1_800);
    expect(Math.max(...waits)).toBeLessThanOrEqual(2_200);
    expect(retryAfterMs({ headers: { 'retry-after': '600' } }, 30_000)).toBe(30_000);
    expect(retryAfterMs({ headers: { 'retry-after': 'soon' } }, 30_000)).toBeUndefined();
    expect(retryAfterMs({ headers: {} }, 30_000)).toBeUndefined();
    expect(retryAfterMs(new Error('no answer'), 30_000)).toBeUndefined();
  });

  it('allows at most its tries, and none after its time', () => {
    const limit = new TryLimit({ tries: 8, withinMs: 60_000 });
    const allowed = many(() => (limit.again() ? 1 : 0)).reduce((a, b) => a + b, 0);
    expect(allowed).toBe(7);
    vi.useFakeTimers({ now: 1_000_000 });
    const timed = new TryLimit({ tries: 8, withinMs: 15_000 });
    expect(timed.deadline).toBe(1_015_000);
    vi.advanceTimersByTime(15_000);
    expect(timed.again()).toBe(true);
    vi.advanceTimersByTime(1);
    expect(timed.again()).toBe(false);
  });
});
