import { describe, expect, it } from 'vitest';
import { signRequest, verifyResponse } from './tsig.js';
import { CLASS, TYPE, addressData, addressOf, decodeMessage, encodeMessage } from './wire.js';

describe('DNS wire format', () => {
  it.each([
    ['192.0.2.11', '192.0.2.11'],
    ['2001:db8::11', '2001:db8::11'],
    ['2001:0db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::1', '::1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['fe80::', 'fe80::'],
  ])('round-trips the address %s', (address, canonical) => {
    const { type, data } = addressData(address);
    expect(addressOf({ name: 'x', type, class: CLASS.IN, ttl: 0, data })).toBe(canonical);
  });

  it('reads compressed names and finds the TSIG record it signed', () => {
    const key = { name: 'k', algorithm: 'hmac-sha256' as const, secret: Buffer.alloc(32, 7) };
    const msg = encodeMessage({
      id: 7,
      flags: 0x8000,
      questions: [{ name: 'a.example', type: TYPE.A, class: CLASS.IN }],
      answers: [],
      authorities: [],
      additionals: [],
    });
    // A pointer to the question name (offset 12) stands for "a.example".
    const compressed = Buffer.concat([
      msg,
      Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]),
    ]);
    compressed.writeUInt16BE(1, 6);
    const { signed } = signRequest(compressed, key);
    const decoded = decodeMessage(signed);
    expect(decoded.answers[0]?.name).toBe('a.example');
    expect(decoded.additionals.at(-1)?.type).toBe(TYPE.TSIG);
    // The same signature does not verify as a response (a response MAC covers the request MAC).
    expect(verifyResponse(signed, decoded, key, Buffer.alloc(32)).status).toBe('invalid');
  });
});
