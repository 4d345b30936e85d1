import { createHmac, randomBytes } from 'node:crypto';

import { constantTimeEqual, sha256Hex } from '../shared/crypto.js';
import { failoverErrors } from './error-codes.js';

/**
 * Inter-appliance requests prove possession of the Inter-Appliance key without sending it:
 * every request carries an HMAC-SHA256 over its method, path, time, a nonce and the sha256 of
 * its body; every answer carries an HMAC over the request's nonce and the answer's body, so
 * the caller knows the peer holds the same key too (an impostor that accepts anything cannot
 * forge it). Both travel over TLS pinned to the peer's certificate fingerprint.
 */
export const PEER_REQUEST_HEADER = 'x-gatehouse-peer';
export const PEER_PROOF_HEADER = 'x-gatehouse-peer-proof';
/** How far apart the two appliances' clocks and a request's age may be. */
export const PEER_WINDOW_MS = 60_000;

const macOf = (key: string, parts: string[]) =>
  createHmac('sha256', key).update(parts.join('\n')).digest('hex');

export interface PeerRequestParts {
  method: string;
  /** Path and query, exactly as sent. */
  path: string;
  body: Buffer | string;
}

export function signPeerRequest(
  key: string,
  from: string,
  req: PeerRequestParts,
  now = Date.now(),
): { header: string; nonce: string } {
  const nonce = randomBytes(16).toString('hex');
  const mac = macOf(key, [
    'gatehouse-peer-v1',
    req.method.toUpperCase(),
    req.path,
    String(now),
    nonce,
    sha256Hex(req.body),
    from,
  ]);
  return {
    header: `v1;from=${encodeURIComponent(from)};ts=${now};nonce=${nonce};mac=${mac}`,
    nonce,
  };
}

const seenNonces = new Map<string, number>();
/**
 * The nonces seen are forgotten when the process ends, so a request signed before this process
 * started could be a replay of one it can no longer recognise: such requests are refused. (A
 * peer whose clock lags by d is refused for d after a restart; its next tries are signed anew.)
 */
const STARTED_AT = Date.now();

function rememberNonce(nonce: string, now: number): boolean {
  for (const [n, at] of seenNonces) if (now - at > 2 * PEER_WINDOW_MS) seenNonces.delete(n);
  if (seenNonces.has(nonce)) return false;
  seenNonces.set(nonce, now);
  return true;
}

/**
 * Check a request's proof with this appliance's key. Returns the caller's name and the nonce
 * the answer must be bound to. A wrong key, a stale or replayed request is refused (401).
 */
export function verifyPeerRequest(
  key: string,
  header: string | undefined,
  req: PeerRequestParts,
  now = Date.now(),
): { from: string; nonce: string } {
  const m = /^v1;from=([^;]*);ts=(\d+);nonce=([0-9a-f]{32});mac=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m)
    throw failoverErrors.PEER_AUTH_REQUIRED(
      'This is an inter-appliance endpoint: requests must be signed with the Inter-Appliance key (sent by another Gatehouse appliance).',
    );
  const [, fromEnc, ts, nonce, mac] = m as unknown as [string, string, string, string, string];
  const from = decodeURIComponent(fromEnc);
  if (Math.abs(now - Number(ts)) > PEER_WINDOW_MS)
    throw failoverErrors.PEER_CLOCK_SKEW(
      `The request from "${from}" is ${Math.round(Math.abs(now - Number(ts)) / 1000)} s away from this appliance's clock (at most ${PEER_WINDOW_MS / 1000} s). Synchronise both appliances' clocks (NTP).`,
    );
  const expected = macOf(key, [
    'gatehouse-peer-v1',
    req.method.toUpperCase(),
    req.path,
    ts,
    nonce,
    sha256Hex(req.body),
    from,
  ]);
  if (!constantTimeEqual(expected, mac))
    throw failoverErrors.FAILOVER_KEY_MISMATCH(
      `"${from}" and this appliance have different Inter-Appliance keys. Copy the key from one appliance's /login > Management > Security page to the other's, then try again.`,
    );
  if (Number(ts) < STARTED_AT)
    throw failoverErrors.PEER_REPLAY(
      `This inter-appliance request from "${from}" was signed before this appliance started (${new Date(STARTED_AT).toISOString()}), so it cannot be told from a replay. The sending appliance signs a new one when it tries again; if this repeats, synchronise both appliances' clocks (NTP).`,
    );
  if (!rememberNonce(nonce, now))
    throw failoverErrors.PEER_REPLAY('This inter-appliance request was already used.');
  return { from, nonce };
}

/** The answer's proof: binds the answer body to the request's nonce. */
export function proveAnswer(key: string, nonce: string, status: number, body: Buffer | string) {
  return macOf(key, ['gatehouse-peer-answer-v1', nonce, String(status), sha256Hex(body)]);
}

export function checkAnswer(
  key: string,
  nonce: string,
  status: number,
  body: Buffer | string,
  proof: string | undefined,
  peer: string,
): void {
  if (!proof || !constantTimeEqual(proveAnswer(key, nonce, status, body), proof))
    throw failoverErrors.FAILOVER_KEY_MISMATCH(
      `The appliance at ${peer} could not prove it holds this appliance's Inter-Appliance key: the keys differ (or it is not a Gatehouse appliance). Copy the key from one appliance's /login > Management > Security page to the other's.`,
    );
}
