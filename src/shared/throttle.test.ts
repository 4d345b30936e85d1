import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './throttle.js';

describe('sign-in throttle', () => {
  it('refuses an address after the limit of failures within the window, then lets it in again', () => {
    const t = new LoginThrottle(3, 60_000);
    const now = 1_000_000;
    for (let i = 0; i < 3; i++) {
      t.check('10.0.0.1', now + i);
      t.fail('10.0.0.1', now + i);
    }
    expect(() => t.check('10.0.0.1', now + 10)).toThrow(/Too many failed sign-ins from 10.0.0.1/);
    expect(() => t.check('10.0.0.2', now + 10)).not.toThrow();
    expect(() => t.check('10.0.0.1', now + 60_001)).not.toThrow();
  });
});
