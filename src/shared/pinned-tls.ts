import { createHash, X509Certificate } from 'node:crypto';
import { buildConnector } from 'undici';
import type { LookupFunction, Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { colonHex } from './crypto.js';
import { dialTcp } from './dial.js';
import { sharedErrors } from './error-codes.js';

/**
 * The TLS server name a client asks for when it pins a site certificate authority: an appliance
 * answers it with its certificate issued by the site's authority (and the authority's own),
 * and every other name with its own self-signed certificate, which peers and older clients pin.
 * A reserved name (RFC 6761 `.invalid`), so it works when the site is reached by address.
 */
export const SITE_IDENTITY_SERVERNAME = 'site-identity.gatehouse.invalid';

/**
 * What a client trusts: certificates by SHA-256 fingerprint, and optionally a site certificate
 * authority (by its fingerprint) that vouches for every appliance of the site.
 */
export interface PinnedTrust {
  fingerprints: string[];
  siteCa?: string;
}

export const trustOf = (pin: string | string[] | PinnedTrust): PinnedTrust =>
  typeof pin === 'string' || Array.isArray(pin)
    ? { fingerprints: (Array.isArray(pin) ? pin : [pin]).map((f) => f.toUpperCase()) }
    : {
        fingerprints: pin.fingerprints.map((f) => f.toUpperCase()),
        ...(pin.siteCa ? { siteCa: pin.siteCa.toUpperCase() } : {}),
      };

/** What the pin is, in words, for an error. */
export const describeTrust = (t: PinnedTrust) =>
  [...t.fingerprints, ...(t.siteCa ? [`a certificate issued by site CA ${t.siteCa}`] : [])].join(
    ' or ',
  );

/** The TLS options that make the appliance present the certificate this trust can check. */
export const servernameFor = (t: PinnedTrust) =>
  t.siteCa ? { servername: SITE_IDENTITY_SERVERNAME } : {};

/**
 * Whether the certificate `socket` was shown is trusted: pinned itself, or issued (and signed)
 * by the pinned site authority, which the appliance sends with it. Returns the fingerprint
 * shown when it is not.
 */
export function untrustedPresented(socket: TLSSocket, t: PinnedTrust): string | undefined {
  const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate;
  if (!leaf?.raw) return 'no certificate';
  if (t.fingerprints.includes(leaf.fingerprint256)) return undefined;
  const issuer = leaf.issuerCertificate;
  if (t.siteCa && issuer?.raw && issuer !== leaf) {
    const caFingerprint = colonHex(createHash('sha256').update(issuer.raw).digest('hex'));
    if (caFingerprint === t.siteCa && vouches(issuer.raw, leaf.raw)) return undefined;
  }
  return leaf.fingerprint256;
}

/** The authority (DER) is a CA that signed the certificate (DER), which is in its validity. */
function vouches(caDer: Buffer, certDer: Buffer): boolean {
  try {
    const ca = new X509Certificate(caDer);
    const cert = new X509Certificate(certDer);
    const now = Date.now();
    return (
      ca.ca &&
      cert.checkIssued(ca) &&
      cert.verify(ca.publicKey) &&
      Date.parse(cert.validFrom) <= now &&
      now <= Date.parse(cert.validTo)
    );
  } catch {
    return false;
  }
}

/**
 * A connector that accepts exactly the certificates with these SHA-256 fingerprints, or those
 * the pinned site authority issued: the way a peer or a site is pinned when there is no public
 * CA, as the appliance prints its fingerprints at start.
 */
export function pinnedConnector(
  pin: string | string[] | PinnedTrust,
  lookup?: LookupFunction,
): buildConnector.connector {
  const trust = trustOf(pin);
  // No TLS session resumption: a resumed session carries no certificate to compare.
  const base = buildConnector({
    rejectUnauthorized: false,
    maxCachedSessions: 0,
    ...(lookup ? { lookup } : {}),
  });
  const where = (o: { hostname: string; port: string }) => `${o.hostname}:${o.port}`;
  return (options, callback) => {
    // TLS over a TCP connection dialled with staggered attempts (a site address that moves).
    const attempt = (t: PinnedTrust, fallBack: boolean) =>
      void dialTcp({
        host: options.hostname,
        port: Number(options.port) || 443,
        ...(lookup ? { lookup } : {}),
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      }).then(
        (tcp) => secure(t, fallBack, tcp),
        (e: Error) => callback(e, null),
      );
    const secure = (t: PinnedTrust, fallBack: boolean, tcp: Socket) =>
      base({ ...options, ...servernameFor(t), httpSocket: tcp }, (err, socket) => {
        if (err || !socket) {
          tcp.destroy();
          return callback(err ?? new Error('TLS connection failed'), null);
        }
        const presented = untrustedPresented(socket as TLSSocket, t);
        if (!presented) return callback(null, socket);
        socket.destroy();
        if (fallBack) return attempt(withoutSiteCa(t), false);
        callback(fingerprintMismatch(where(options), presented, describeTrust(trust)), null);
      });
    attempt(trust, fallsBack(trust));
  };
}

/**
 * A client that pins both the site's authority and certificates asks for the site's certificate
 * first; when that is not the pinned authority's (the appliance joined another site since), it
 * asks again for the appliance's own certificate, which may be pinned itself.
 */
export const fallsBack = (t: PinnedTrust) => !!t.siteCa && t.fingerprints.length > 0;
export const withoutSiteCa = (t: PinnedTrust): PinnedTrust => ({ fingerprints: t.fingerprints });

/** An appliance at `where` presented a certificate other than the one pinned. */
export const fingerprintMismatch = (where: string, presented: string, pinned: string) =>
  sharedErrors.TLS_FINGERPRINT_MISMATCH(
    `The appliance at ${where} presented certificate ${presented}, not the pinned ${pinned}. Check the address, or re-pin if its certificate was replaced (pin the site CA, shown on Status > Information, to trust every appliance of the site).`,
  );
