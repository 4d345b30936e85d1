import { describe, expect, it } from 'vitest';
import { jittered } from './jitter.js';

describe('jittered', () => {
  it('stays within ±spread/2 of the value and does not repeat one value', () => {
    const wide = Array.from({ length: 2_000 }, () => jittered(250, 1));
    expect(Math.min(...wide)).toBeGreaterThanOrEqual(125);
    expect(Math.max(...wide)).toBeLessThanOrEqual(375);
    // Spread out: both thirds of the range are used, not one instant.
    expect(wide.some((w) => w < 170)).toBe(true);
    expect(wide.some((w) => w > 330)).toBe(true);
    const narrow = Array.from({ length: 2_000 }, () => jittered(1_000));
    expect(Math.min(...narrow)).toBeGreaterThanOrEqual(750);
    expect(Math.max(...narrow)).toBeLessThanOrEqual(1_250);
  });
});
