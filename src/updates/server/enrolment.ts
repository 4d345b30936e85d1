import { randomToken, sha256Hex } from '../../shared/crypto.js';
import { GatehouseError } from '../../shared/errors.js';
import { verifyDownloadKey, type DownloadKeyClaims } from '../download-key.js';
import type { UpdateStore } from './store.js';
import { sharedErrors } from '../../shared/error-codes.js';
import { updatesErrors } from '../error-codes.js';

/**
 * Who may use the update server (issue 18, finding 4). A download key proves only that its
 * sender holds some key pair; the operator vouches for which key is which appliance, either by
 * a one-use, expiring registration token the appliance presents once, or by approving the key's
 * fingerprint (shown on the appliance's Updates page) among the keys waiting on /admin. Only an
 * enrolled key may list or download; a name enrolled with one key is refused to every other.
 */

export const REGISTRATION_TOKEN_PREFIX = 'ghrt1';
export const REGISTRATION_TOKEN_PATTERN = /^ghrt1\.[A-Za-z0-9_-]{43}$/;
export const DEFAULT_TOKEN_TTL_HOURS = 24;
export const MAX_TOKEN_TTL_HOURS = 24 * 30;

/** What a refused or accepted contact is logged with (never the token itself). */
export interface ContactLog {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
}

export interface ContactOptions {
  /** The address the request came from: kept with a pending key and logged with refusals. */
  address: string;
  /** A registration token presented with this contact (enrols an unknown key). */
  registrationToken?: string;
  log: ContactLog;
  now?: number;
}

const shortKey = (keyId: string) => `${keyId.slice(0, 16)}…`;

/** Create a registration token: shown once; the server keeps its sha256. */
export function createRegistrationToken(
  store: UpdateStore,
  opts: { appliance?: string; ttlHours?: number; now?: number },
): { token: string; id: string; expiresAt: number } {
  const now = opts.now ?? Date.now();
  const ttlHours = opts.ttlHours ?? DEFAULT_TOKEN_TTL_HOURS;
  if (!Number.isFinite(ttlHours) || ttlHours <= 0 || ttlHours > MAX_TOKEN_TTL_HOURS)
    throw sharedErrors.VALIDATION_FAILED(
      `ttl-hours: must be a number of hours above 0 and at most ${MAX_TOKEN_TTL_HOURS} (30 days).`,
      {
        fields: [
          { field: 'ttlHours', message: `must be above 0 and at most ${MAX_TOKEN_TTL_HOURS}` },
        ],
      },
    );
  if (opts.appliance !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(opts.appliance))
    throw sharedErrors.VALIDATION_FAILED(
      `appliance: "${opts.appliance}" is not an appliance name (letters, digits, ".", "_" and "-", as the appliance's Updates page shows it).`,
      { fields: [{ field: 'appliance', message: 'is not an appliance name' }] },
    );
  const token = `${REGISTRATION_TOKEN_PREFIX}.${randomToken(32)}`;
  const tokenHash = sha256Hex(token);
  const id = tokenHash.slice(0, 12);
  const expiresAt = now + ttlHours * 3600_000;
  store.enrolment.addToken({ id, tokenHash, appliance: opts.appliance ?? null, expiresAt }, now);
  return { token, id, expiresAt };
}

const tokenRefused = (why: string) =>
  updatesErrors.REGISTRATION_TOKEN_INVALID(
    `registrationToken: ${why}. Ask the update server's operator for a new registration token (/admin, or \`gatehouse update-server token create\`).`,
    { fields: [{ field: 'registrationToken', message: why }] },
  );

/** Spend a registration token for `claims`, or say why it cannot be. */
function redeemToken(
  store: UpdateStore,
  token: string,
  claims: DownloadKeyClaims,
  now: number,
): string {
  const compact = token.trim();
  if (!REGISTRATION_TOKEN_PATTERN.test(compact))
    throw tokenRefused(
      `it is not a registration token (they start with "${REGISTRATION_TOKEN_PREFIX}.")`,
    );
  const record = store.enrolment.tokenByHash(sha256Hex(compact));
  if (!record) throw tokenRefused('this update server did not issue it');
  if (record.usedAt !== null) throw tokenRefused('it was already used');
  if (record.expiresAt <= now)
    throw tokenRefused(`it expired at ${new Date(record.expiresAt).toISOString()}`);
  if (record.appliance !== null && record.appliance !== claims.appliance)
    throw tokenRefused(`it is for appliance "${record.appliance}", not "${claims.appliance}"`);
  if (!store.enrolment.spendToken(record.id, claims.appliance, now))
    throw tokenRefused('it was already used');
  return record.id;
}

/**
 * Verify a download key and return its claims if its key is enrolled under its name. An
 * unknown key is enrolled by a valid registration token, or else waits for the operator's
 * approval (kept among the pending keys) and is refused with what to do.
 */
export function contactAppliance(
  store: UpdateStore,
  downloadKey: string,
  opts: ContactOptions,
): DownloadKeyClaims {
  const now = opts.now ?? Date.now();
  const claims = verifyDownloadKey(downloadKey, now);
  const who = { appliance: claims.appliance, keyId: claims.keyId, address: opts.address };
  const revoked = store.enrolment.revoked(claims.keyId);
  if (revoked) {
    opts.log.warn(who, 'revoked appliance key refused');
    throw updatesErrors.APPLIANCE_KEY_REVOKED(
      `The operator of this update server revoked identity key ${shortKey(claims.keyId)} (of "${revoked.name}") at ${new Date(revoked.revokedAt).toISOString()}. Nothing is listed or downloaded for it; ask the operator.`,
    );
  }
  const enrolled = store.appliance(claims.appliance);
  if (enrolled && enrolled.keyId === claims.keyId) {
    store.touchAppliance(claims, now);
    return claims;
  }
  const pending = { ...claims, name: claims.appliance, address: opts.address };
  if (enrolled) {
    // Kept pending: if the appliance was re-installed, the operator re-keys it from there.
    store.enrolment.recordPending(pending, now);
    opts.log.warn(who, 'claim of an enrolled appliance name refused');
    throw updatesErrors.DOWNLOAD_KEY_OTHER_APPLIANCE(
      `This key names appliance "${claims.appliance}", but it was made with identity key ${shortKey(claims.keyId)}, and "${claims.appliance}" is enrolled here with identity key ${shortKey(enrolled.keyId)}. Generate the key on the appliance "${claims.appliance}" itself. If that appliance was re-installed, ask the update server's operator to re-key it: its new fingerprint is waiting on /admin (or \`gatehouse update-server approve --key ${claims.keyId} --rekey\`).`,
      { fields: [{ field: 'downloadKey', message: 'belongs to another appliance' }] },
    );
  }
  const other = store.applianceByKey(claims.keyId);
  if (other) {
    opts.log.warn(who, 'enrolled key used under another name refused');
    throw updatesErrors.APPLIANCE_NAME_MISMATCH(
      `Identity key ${shortKey(claims.keyId)} is enrolled here as "${other.name}", not "${claims.appliance}". If the appliance was renamed, ask the update server's operator to revoke "${other.name}" and enrol it again under its new name.`,
    );
  }
  if (opts.registrationToken) {
    const tokenId = redeemToken(store, opts.registrationToken, claims, now);
    store.enrolAppliance(pending, 'token', now);
    opts.log.info({ ...who, token: tokenId }, 'appliance enrolled with a registration token');
    return claims;
  }
  store.enrolment.recordPending(pending, now);
  opts.log.info(who, 'unenrolled appliance key waits for the operator');
  throw notEnrolled(claims);
}

function notEnrolled(claims: DownloadKeyClaims): GatehouseError {
  return updatesErrors.APPLIANCE_NOT_ENROLLED(
    `Appliance "${claims.appliance}" is not enrolled with this update server, so nothing is listed or downloaded for it. Either ask the update server's operator for a registration token (\`gatehouse update-server token create --appliance ${claims.appliance}\`) and enter it with the update server settings on the appliance's Updates page (or beside the download key on this server's page), or ask the operator to approve identity key fingerprint ${claims.keyId} (shown on the appliance's Updates page) on /admin or with \`gatehouse update-server approve --key ${claims.keyId}\`.`,
  );
}
