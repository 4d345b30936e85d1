import { describe, expect, it } from 'vitest';
import { CustomerKeys, SESSION_KEY_MS } from './customer-keys.js';

describe('session keys for customer clients', () => {
  it('works once, typed with spaces or dashes, and names its representative', () => {
    const keys = new CustomerKeys();
    const { key } = keys.issue('ann', () => false);
    expect(key).toMatch(/^\d{8}$/);
    expect(keys.redeem(`${key.slice(0, 4)}-${key.slice(4)}`)).toEqual({
      key,
      representative: 'ann',
    });
    expect(() => keys.redeem(key)).toThrow(/SESSION_KEY_WRONG|not a session key/);
  });

  it('expires after its time', () => {
    const keys = new CustomerKeys();
    const now = 1_000_000;
    const { key, expiresAt } = keys.issue('ann', () => false, now);
    expect(expiresAt).toBe(now + SESSION_KEY_MS);
    expect(() => keys.redeem(key, now + SESSION_KEY_MS)).toThrow(/not a session key/);
  });

  it('keeps at most 20 waiting keys per representative, dropping the oldest', () => {
    const keys = new CustomerKeys();
    const issued = Array.from({ length: 21 }, () => keys.issue('ann', () => false).key);
    expect(() => keys.redeem(issued[0]!)).toThrow(/not a session key/);
    expect(keys.redeem(issued[1]!).representative).toBe('ann');
    expect(keys.redeem(issued[20]!).representative).toBe('ann');
  });

  it('never gives the digits of a customer client still connected', () => {
    const keys = new CustomerKeys();
    let asked = 0;
    const { key } = keys.issue('ann', () => ++asked < 3);
    expect(asked).toBe(3);
    expect(key).toMatch(/^\d{8}$/);
  });
});
