import { buildConnector } from 'undici';
import type { LookupFunction } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { GatehouseError } from './errors.js';

/**
 * A connector that accepts exactly the certificate with this SHA-256 fingerprint: the way a
 * peer is pinned when there is no CA, as the appliance prints its fingerprint at start.
 */
export function pinnedConnector(
  fingerprint: string | string[],
  lookup?: LookupFunction,
): buildConnector.connector {
  const wanted = (Array.isArray(fingerprint) ? fingerprint : [fingerprint]).map((f) =>
    f.toUpperCase(),
  );
  const want = wanted.join(' or ');
  // No TLS session resumption: a resumed session carries no certificate to compare.
  const base = buildConnector({
    rejectUnauthorized: false,
    maxCachedSessions: 0,
    ...(lookup ? { lookup } : {}),
  });
  return (options, callback) =>
    base(options, (err, socket) => {
      if (err || !socket) return callback(err ?? new Error('TLS connection failed'), null);
      const got = (socket as TLSSocket).getPeerCertificate().fingerprint256;
      if (!wanted.includes(got)) {
        socket.destroy();
        return callback(
          fingerprintMismatch(`${options.hostname}:${options.port}`, got, want),
          null,
        );
      }
      callback(null, socket);
    });
}

/** An appliance at `where` presented a certificate other than the one pinned. */
export const fingerprintMismatch = (where: string, presented: string, pinned: string) =>
  new GatehouseError(
    'TLS_FINGERPRINT_MISMATCH',
    502,
    `The appliance at ${where} presented certificate ${presented}, not the pinned ${pinned}. Check the address, or re-pin if its certificate was replaced.`,
  );
