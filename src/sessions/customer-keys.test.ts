import { describe, expect, it } from 'vitest';
import { CustomerKeys, SESSION_KEY_MS } from './customer-keys.js';

const none = () => false;
const CUSTOMER = '198.51.100.7';
const GUESSER = '203.0.113.9';

describe('session keys for customer clients', () => {
  it('works once, typed with spaces or dashes, and names the representative and a name not made of the key', () => {
    const keys = new CustomerKeys();
    const { key, name } = keys.issue('ann', none);
    expect(key).toMatch(/^\d{8}$/);
    expect(name).toMatch(/^customer-[0-9a-f]{8}$/);
    expect(name).not.toContain(key);
    expect(keys.redeem(`${key.slice(0, 4)}-${key.slice(4)}`, 'nonce-one', CUSTOMER)).toEqual({
      representative: 'ann',
      name,
    });
    expect(() => keys.redeem(key, 'nonce-two', CUSTOMER)).toThrow(/not a session key/);
    expect(() => keys.redeem(key, undefined, CUSTOMER)).toThrow(/not a session key/);
  });

  it('answers a repeated join (same nonce) the same for a minute: its first answer was lost', () => {
    const keys = new CustomerKeys();
    const now = 5_000_000;
    const { key, name } = keys.issue('ann', none, now);
    expect(keys.redeem(key, 'same-nonce', CUSTOMER, now).name).toBe(name);
    expect(keys.redeem(key, 'same-nonce', CUSTOMER, now + 30_000).name).toBe(name);
    expect(() => keys.redeem(key, 'same-nonce', CUSTOMER, now + 61_000)).toThrow(
      /not a session key/,
    );
  });

  it('expires after its time', () => {
    const keys = new CustomerKeys();
    const now = 1_000_000;
    const { key, expiresAt } = keys.issue('ann', none, now);
    expect(expiresAt).toBe(now + SESSION_KEY_MS);
    expect(() => keys.redeem(key, 'n-12345678', CUSTOMER, now + SESSION_KEY_MS)).toThrow(
      /not a session key/,
    );
  });

  it('keeps at most 20 waiting keys per representative, dropping the oldest', () => {
    const keys = new CustomerKeys();
    const issued = Array.from({ length: 21 }, () => keys.issue('ann', none).key);
    expect(() => keys.redeem(issued[0]!, 'n-1', CUSTOMER)).toThrow(/not a session key/);
    expect(keys.redeem(issued[1]!, 'n-2', CUSTOMER).representative).toBe('ann');
    expect(keys.redeem(issued[20]!, 'n-3', CUSTOMER).representative).toBe('ann');
  });

  it('refuses an address after 10 wrong keys a minute, not the others', () => {
    const keys = new CustomerKeys();
    const now = 9_000_000;
    const { key } = keys.issue('ann', none, now);
    for (let i = 0; i < 10; i++)
      expect(() => keys.redeem('0', undefined, GUESSER, now)).toThrow(/not a/);
    expect(() => keys.redeem(key, 'n-4', GUESSER, now + 1_000)).toThrow(
      /Too many wrong session keys from/,
    );
    expect(keys.redeem(key, 'n-4', CUSTOMER, now + 1_000).representative).toBe('ann');
  });

  it('cannot be made to refuse every customer by guessers from many addresses', () => {
    const keys = new CustomerKeys();
    const now = 9_000_000;
    const { key } = keys.issue('ann', none, now);
    expect(() => keys.redeem('0', undefined, GUESSER, now)).toThrow(/not a/);
    // Six more addresses send the site's ceiling of wrong keys (the old single counter: all locked out).
    for (let i = 0; i < 59; i++)
      expect(() => keys.redeem('0', undefined, `203.0.113.${i % 6}`, now)).toThrow(/not a/);
    // A guesser that failed once is refused meanwhile; a customer who has not is let in.
    expect(() => keys.redeem('1', undefined, GUESSER, now + 1_000)).toThrow(
      /while this site refuses many/,
    );
    expect(keys.redeem(key, 'n-5', CUSTOMER, now + 1_000).representative).toBe('ann');
  });

  it('never gives the name of a client still connected', () => {
    const keys = new CustomerKeys();
    let asked = 0;
    const { name } = keys.issue('ann', () => ++asked < 3);
    expect(asked).toBe(3);
    expect(name).toMatch(/^customer-/);
  });
});
