import { describe, expect, it } from 'vitest';
import { PREDICTED_MS, installMs, offlineHalf } from './plan-input.js';

describe('the traffic nodes upgraded first (S22)', () => {
  it('takes half of each region, rounded up, by name, so every region keeps nodes serving', () => {
    const nodes = [
      { name: 'eu-3', region: 'eu' },
      { name: 'eu-1', region: 'eu' },
      { name: 'eu-2', region: 'eu' },
      { name: 'us-2', region: 'us' },
      { name: 'us-1', region: 'us' },
      { name: 'ap-1', region: 'ap' },
    ];
    expect(offlineHalf(nodes).sort()).toEqual(['ap-1', 'eu-1', 'eu-2', 'us-1']);
  });

  it('takes none when there are no traffic nodes', () => {
    expect(offlineHalf([])).toEqual([]);
  });
});

describe('the predicted time of an install', () => {
  it('adds the prediction of each package by its kind', () => {
    const pkg = (kind: 'base' | 'product') => ({ kind, version: '1.0.0' }) as never;
    expect(installMs([pkg('base'), pkg('product')])).toBe(
      PREDICTED_MS.installBase + PREDICTED_MS.installProduct,
    );
    expect(installMs([])).toBe(0);
  });
});
