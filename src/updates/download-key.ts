import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { keyId, loadPublicKey, signEd25519, verifyEd25519 } from '../shared/crypto.js';
import { updatesErrors } from './error-codes.js';

/**
 * The Appliance Download Key: a token that names an appliance and what it runs, signed by the
 * appliance's identity key and expiring.
 *
 *   ghdk1.<base64url(JSON claims)>.<base64url(Ed25519 signature over the claims segment)>
 *
 * It is self-contained: the claims carry the appliance's public key, so anyone can check that
 * the token was made by the holder of that key and was not altered. Which name belongs to which
 * key is the update server's decision (it binds a name to a key on first contact).
 *
 * A long-lived one is copied to another machine for manual updates (S10); a short-lived one is
 * what the appliance itself sends with each request to the update server.
 */
export const DOWNLOAD_KEY_PREFIX = 'ghdk1';

/** `authorization: Gatehouse-Appliance <token>` on requests from an appliance. */
export const APPLIANCE_AUTH_SCHEME = 'Gatehouse-Appliance';

/** The lifetime of the token an appliance sends with each request. */
export const REQUEST_TOKEN_TTL_MS = 5 * 60_000;

const Version = z.string().regex(/^\d+\.\d+\.\d+$/, 'must be MAJOR.MINOR.PATCH');

export const DownloadKeyClaims = z
  .object({
    appliance: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/),
    keyId: z.string().regex(/^[0-9a-f]{64}$/),
    publicKey: z.string().includes('-----BEGIN PUBLIC KEY-----'),
    product: Version,
    base: Version,
    issuedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
  })
  .strict();
export type DownloadKeyClaims = z.infer<typeof DownloadKeyClaims>;

export interface CreateDownloadKeyOptions {
  appliance: string;
  /** The appliance's identity key (Ed25519 private key). */
  identityKey: KeyObject;
  /** PEM (SPKI) of the matching public key. */
  publicKeyPem: string;
  product: string;
  base: string;
  ttlMs: number;
  now?: number;
}

export function createDownloadKey(opts: CreateDownloadKeyOptions): string {
  const now = opts.now ?? Date.now();
  if (!(opts.ttlMs > 0)) throw new RangeError('ttlMs must be a positive number of milliseconds');
  const claims = DownloadKeyClaims.parse({
    appliance: opts.appliance,
    keyId: keyId(opts.publicKeyPem),
    publicKey: opts.publicKeyPem,
    product: opts.product,
    base: opts.base,
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + opts.ttlMs).toISOString(),
  });
  const segment = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = signEd25519(opts.identityKey, Buffer.from(segment)).toString('base64url');
  return `${DOWNLOAD_KEY_PREFIX}.${segment}.${signature}`;
}

const REGENERATE = "Generate a new key on the appliance's Updates page and paste it again.";

const malformed = (why: string) =>
  updatesErrors.DOWNLOAD_KEY_MALFORMED(
    `This is not a valid Appliance Download Key (${why}). Copy the whole key shown on the appliance's Updates page (it starts with "${DOWNLOAD_KEY_PREFIX}.") and paste it again.`,
    { fields: [{ field: 'downloadKey', message: why }] },
  );

const badSignature = (why: string) =>
  updatesErrors.DOWNLOAD_KEY_BAD_SIGNATURE(
    `The Appliance Download Key was altered or damaged: ${why}. ${REGENERATE}`,
    { fields: [{ field: 'downloadKey', message: why }] },
  );

/**
 * Check a token's format, that its key id is that of its public key, its signature and its
 * expiry; return its claims. Pasted keys may carry line breaks and spaces: they are ignored.
 */
export function verifyDownloadKey(token: string, now = Date.now()): DownloadKeyClaims {
  const compact = token.replace(/\s+/g, '');
  if (!compact) throw malformed('it is empty');
  const parts = compact.split('.');
  if (parts[0] !== DOWNLOAD_KEY_PREFIX)
    throw malformed(`it does not start with "${DOWNLOAD_KEY_PREFIX}."`);
  if (parts.length !== 3 || !parts[1] || !parts[2]) throw malformed('it is incomplete');
  const [, segment, signature] = parts as [string, string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(segment) || !/^[A-Za-z0-9_-]+$/.test(signature))
    throw malformed('it contains characters a key never has');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    // A flipped character in the claims usually breaks them this way.
    throw badSignature('its content is unreadable');
  }
  const parsed = DownloadKeyClaims.safeParse(json);
  if (!parsed.success) throw badSignature('its content is not what an appliance writes');
  const claims = parsed.data;
  let publicKey: KeyObject;
  try {
    publicKey = loadPublicKey(claims.publicKey);
  } catch {
    throw badSignature('the public key it carries is unreadable');
  }
  if (publicKey.asymmetricKeyType !== 'ed25519' || keyId(publicKey) !== claims.keyId)
    throw badSignature('its key id does not match the public key it carries');
  if (!verifyEd25519(publicKey, Buffer.from(segment), Buffer.from(signature, 'base64url')))
    throw badSignature('its signature does not verify');
  const expiresAt = Date.parse(claims.expiresAt);
  if (expiresAt <= now) {
    throw updatesErrors.DOWNLOAD_KEY_EXPIRED(
      `The Appliance Download Key of "${claims.appliance}" expired at ${claims.expiresAt} (it is now ${new Date(now).toISOString()}). ${REGENERATE} If the appliance made it moments ago, check that its clock is right.`,
      { fields: [{ field: 'downloadKey', message: 'has expired' }] },
    );
  }
  return claims;
}

/** The token of an `authorization: Gatehouse-Appliance <token>` header, if that is the scheme. */
export function tokenFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, token] = header.trim().split(/\s+/, 2);
  return scheme?.toLowerCase() === APPLIANCE_AUTH_SCHEME.toLowerCase() && token ? token : undefined;
}
