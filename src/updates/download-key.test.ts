import { describe, expect, it } from 'vitest';
import { generateEd25519, keyId, loadPrivateKey } from '../shared/crypto.js';
import {
  createDownloadKey,
  tokenFromAuthorization,
  verifyDownloadKey,
  type CreateDownloadKeyOptions,
} from './download-key.js';

const pair = generateEd25519();
const NOW = Date.parse('2026-05-01T12:00:00Z');

const options = (over: Partial<CreateDownloadKeyOptions> = {}): CreateDownloadKeyOptions => ({
  appliance: 'appliance-a',
  identityKey: loadPrivateKey(pair.privateKeyPem),
  publicKeyPem: pair.publicKeyPem,
  product: '1.0.0',
  base: '1.0.0',
  ttlMs: 3_600_000,
  now: NOW,
  ...over,
});

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Flip the top bit of the base64url character at `i` (the low bits of a last one are unused). */
const flipAt = (s: string, i: number) =>
  s.slice(0, i) + B64URL[B64URL.indexOf(s[i]!) ^ 32] + s.slice(i + 1);

describe('Appliance Download Key', () => {
  it('names the appliance, its key and what it runs, and verifies until it expires', () => {
    const token = createDownloadKey(options());
    expect(token).toMatch(/^ghdk1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const claims = verifyDownloadKey(token, NOW + 1000);
    expect(claims).toMatchObject({
      appliance: 'appliance-a',
      keyId: keyId(pair.publicKeyPem),
      product: '1.0.0',
      base: '1.0.0',
      issuedAt: '2026-05-01T12:00:00.000Z',
      expiresAt: '2026-05-01T13:00:00.000Z',
    });
    expect(codeOf(() => verifyDownloadKey(token, NOW + 3_600_000))).toBe('DOWNLOAD_KEY_EXPIRED');
  });

  it('accepts a key pasted with line breaks and spaces', () => {
    const token = createDownloadKey(options());
    const wrapped = `  ${token.match(/.{1,40}/g)!.join('\n')}\n`;
    expect(verifyDownloadKey(wrapped, NOW).appliance).toBe('appliance-a');
  });

  it('refuses a key altered at any position of its claims or signature', () => {
    const token = createDownloadKey(options());
    const start = 'ghdk1.'.length;
    const positions = [token.length - 1];
    for (let i = start; i < token.length; i += 5) positions.push(i);
    for (const i of positions) {
      if (token[i] === '.') continue;
      const code = codeOf(() => verifyDownloadKey(flipAt(token, i), NOW));
      expect(['DOWNLOAD_KEY_BAD_SIGNATURE', 'DOWNLOAD_KEY_MALFORMED']).toContain(code);
    }
  });

  it('refuses claims re-signed by another key than the one they carry', () => {
    const other = generateEd25519();
    const forged = createDownloadKey(options({ identityKey: loadPrivateKey(other.privateKeyPem) }));
    expect(codeOf(() => verifyDownloadKey(forged, NOW))).toBe('DOWNLOAD_KEY_BAD_SIGNATURE');
  });

  it('refuses a key whose claims name another key id', () => {
    const token = createDownloadKey(options());
    const [, segment] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(segment, 'base64url').toString()) as Record<
      string,
      string
    >;
    claims.keyId = 'f'.repeat(64);
    const swapped = `ghdk1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${token.split('.')[2]}`;
    expect(() => verifyDownloadKey(swapped, NOW)).toThrow(/key id does not match/);
  });

  it('says what is wrong with text that is not a key, and what to do', () => {
    expect(codeOf(() => verifyDownloadKey('', NOW))).toBe('DOWNLOAD_KEY_MALFORMED');
    expect(codeOf(() => verifyDownloadKey('hello', NOW))).toBe('DOWNLOAD_KEY_MALFORMED');
    expect(codeOf(() => verifyDownloadKey('ghdk1.abc', NOW))).toBe('DOWNLOAD_KEY_MALFORMED');
    expect(() => verifyDownloadKey('ghdk1.abc', NOW)).toThrow(/Updates page/);
    const token = createDownloadKey(options());
    expect(() => verifyDownloadKey(token, NOW + 7_200_000)).toThrow(
      /expired at 2026-05-01T13:00:00.000Z.*Generate a new key on the appliance's Updates page/,
    );
  });

  it('reads the token of a Gatehouse-Appliance authorization header only', () => {
    expect(tokenFromAuthorization('Gatehouse-Appliance ghdk1.a.b')).toBe('ghdk1.a.b');
    expect(tokenFromAuthorization('gatehouse-appliance  ghdk1.a.b')).toBe('ghdk1.a.b');
    expect(tokenFromAuthorization('Bearer ghdk1.a.b')).toBeUndefined();
    expect(tokenFromAuthorization(undefined)).toBeUndefined();
  });
});
