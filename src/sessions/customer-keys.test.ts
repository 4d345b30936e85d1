import { describe, expect, it } from 'vitest';
import { CustomerKeys, SESSION_KEY_MS } from './customer-keys.js';

const none = () => false;

describe('session keys for customer clients', () => {
  it('works once, typed with spaces or dashes, and names the representative and a name not made of the key', () => {
    const keys = new CustomerKeys();
    const { key, name } = keys.issue('ann', none);
    expect(key).toMatch(/^\d{8}$/);
    expect(name).toMatch(/^customer-[0-9a-f]{8}$/);
    expect(name).not.toContain(key);
    expect(keys.redeem(`${key.slice(0, 4)}-${key.slice(4)}`, 'nonce-one')).toEqual({
      representative: 'ann',
      name,
    });
    expect(() => keys.redeem(key, 'nonce-two')).toThrow(/not a session key/);
    expect(() => keys.redeem(key, undefined)).toThrow(/not a session key/);
  });

  it('answers a repeated join (same nonce) the same for a minute: its first answer was lost', () => {
    const keys = new CustomerKeys();
    const now = 5_000_000;
    const { key, name } = keys.issue('ann', none, now);
    expect(keys.redeem(key, 'same-nonce', now).name).toBe(name);
    expect(keys.redeem(key, 'same-nonce', now + 30_000).name).toBe(name);
    expect(() => keys.redeem(key, 'same-nonce', now + 61_000)).toThrow(/not a session key/);
  });

  it('expires after its time', () => {
    const keys = new CustomerKeys();
    const now = 1_000_000;
    const { key, expiresAt } = keys.issue('ann', none, now);
    expect(expiresAt).toBe(now + SESSION_KEY_MS);
    expect(() => keys.redeem(key, 'n-12345678', now + SESSION_KEY_MS)).toThrow(/not a session key/);
  });

  it('keeps at most 20 waiting keys per representative, dropping the oldest', () => {
    const keys = new CustomerKeys();
    const issued = Array.from({ length: 21 }, () => keys.issue('ann', none).key);
    expect(() => keys.redeem(issued[0]!, 'n-1')).toThrow(/not a session key/);
    expect(keys.redeem(issued[1]!, 'n-2').representative).toBe('ann');
    expect(keys.redeem(issued[20]!, 'n-3').representative).toBe('ann');
  });

  it('refuses every key for a minute once the site saw 60 wrong ones, from any address', () => {
    const keys = new CustomerKeys();
    const now = 9_000_000;
    const { key } = keys.issue('ann', none, now);
    for (let i = 0; i < 60; i++) expect(() => keys.redeem('0', undefined, now)).toThrow(/not a/);
    expect(() => keys.redeem(key, 'n-4', now + 1_000)).toThrow(/too many wrong session keys/);
    expect(keys.redeem(key, 'n-4', now + 61_000).representative).toBe('ann');
  });

  it('never gives the name of a client still connected', () => {
    const keys = new CustomerKeys();
    let asked = 0;
    const { name } = keys.issue('ann', () => ++asked < 3);
    expect(asked).toBe(3);
    expect(name).toMatch(/^customer-/);
  });
});
