import { describe, expect, it } from 'vitest';
import { delayAfter, FORGET_AFTER_MS, StrikeTable } from './strikes.js';

const policy = { free: 3, capMs: 60_000 };

describe('sign-in strikes', () => {
  it('lets the free failures pass, then doubles the wait up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 9].map((n) => delayAfter(n, policy))).toEqual([
      0, 0, 5_000, 10_000, 20_000, 40_000, 60_000,
    ]);
  });

  it('forgets strikes after a quiet day, or when cleared after them', () => {
    const t = new StrikeTable();
    for (let i = 0; i < 4; i++) t.fail('k', policy, 1_000 + i);
    expect(t.get('k', 2_000)?.failures).toBe(4);
    expect(t.get('k', 2_000, 1_003)).toBeUndefined();
    t.fail('k', policy, 5_000);
    expect(t.get('k', 5_000 + FORGET_AFTER_MS + 1)).toBeUndefined();
  });

  it('keeps at most its bound of keys, dropping the oldest', () => {
    const t = new StrikeTable(2);
    for (const k of ['a', 'b', 'c']) t.fail(k, policy, 1_000);
    expect(t.get('a', 1_000)).toBeUndefined();
    expect(t.get('c', 1_000)?.failures).toBe(1);
  });
});
