import { constantTimeEqual, hmacHex } from '../../shared/crypto.js';
import { updatesErrors } from '../error-codes.js';

/**
 * Download tickets: the links on the download-key page carry a short-lived ticket instead of
 * the download key itself, so that the key is not left in browser history or proxy logs. A
 * ticket names the appliance (identity key id) and the one package it may fetch, and is an
 * HMAC with the server's secret: only this server issues and accepts them.
 */
export const TICKET_TTL_MS = 60 * 60_000;

export interface Ticket {
  keyId: string;
  sha256: string;
  expiresAt: number;
}

export function issueTicket(secret: string, t: Ticket): string {
  const body = Buffer.from(JSON.stringify({ k: t.keyId, p: t.sha256, e: t.expiresAt })).toString(
    'base64url',
  );
  return `${body}.${hmacHex(secret, body)}`;
}

const AGAIN = 'Paste the Appliance Download Key on the download page again for fresh links.';

export function checkTicket(
  secret: string,
  ticket: string,
  sha256: string,
  now = Date.now(),
): Ticket {
  const [body, mac] = ticket.split('.');
  let parsed: { k?: unknown; p?: unknown; e?: unknown } | undefined;
  if (body && mac && constantTimeEqual(mac, hmacHex(secret, body))) {
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof parsed;
    } catch {
      parsed = undefined;
    }
  }
  if (
    !parsed ||
    typeof parsed.k !== 'string' ||
    typeof parsed.p !== 'string' ||
    typeof parsed.e !== 'number' ||
    parsed.p !== sha256
  ) {
    throw updatesErrors.DOWNLOAD_TICKET_INVALID(
      `This download link is not valid for this package (it was altered or copied from another link). ${AGAIN}`,
    );
  }
  if (parsed.e <= now)
    throw updatesErrors.DOWNLOAD_TICKET_EXPIRED(
      `This download link expired at ${new Date(parsed.e).toISOString()}. ${AGAIN}`,
    );
  return { keyId: parsed.k, sha256: parsed.p, expiresAt: parsed.e };
}
