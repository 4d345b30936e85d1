import { describe, expect, it } from 'vitest';
import { leaksIn, secret, secretBytes } from './support/log-scan.js';

const found = (text: string, s = secret('the password', 'correct horse battery')) =>
  leaksIn([{ source: 'a log', text }], [s]);

describe('leaksIn (the secret scan of the log tests)', () => {
  it('finds a secret base64-encoded inside a larger value, whatever its offset mod 3', () => {
    for (const user of ['', 'a', 'ab', 'abc', 'admin', 'operator']) {
      const basic = Buffer.from(`${user}:correct horse battery`);
      for (const encoding of ['base64', 'base64url'] as const)
        for (const after of ['', '!', '!?', '!?#'])
          expect(
            found(
              `authorization: Basic ${Buffer.concat([basic, Buffer.from(after)]).toString(encoding)}`,
            ),
            `${user}:…${after} in ${encoding}`,
          ).not.toEqual([]);
    }
  });

  it('finds raw secret bytes inside a larger encoding, and nothing in text without them', () => {
    const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const s = secretBytes('a key', key);
    for (const before of [0, 1, 2])
      expect(
        found(
          Buffer.concat([Buffer.alloc(before, 7), key, Buffer.from([9])]).toString('base64'),
          s,
        ),
      ).not.toEqual([]);
    expect(found('authorization: Basic YWRtaW46aHVudGVyMg==')).toEqual([]);
  });
});
