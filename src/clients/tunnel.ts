import type { LookupFunction, Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { dialTcp } from '../shared/dial.js';
import { GatehouseError, type Problem } from '../shared/errors.js';
import {
  describeTrust,
  fallsBack,
  fingerprintMismatch,
  trustOf,
  untrustedPresented,
  SITE_IDENTITY_SERVERNAME,
  type PinnedTrust,
} from '../shared/pinned-tls.js';
import { PRODUCT_VERSION } from '../shared/version.js';
import { UPGRADE_PROTOCOL } from '../sessions/protocol.js';
import { sharedErrors } from '../shared/error-codes.js';
import { sessionsErrors } from '../sessions/error-codes.js';

export interface Endpoint {
  host: string;
  port: number;
  /** SHA-256 fingerprint of the appliance's certificate (AB:CD:…). */
  fingerprint: string;
  /**
   * The other certificates of the site (its failover peer, its traffic nodes): the site
   * hostname may lead to any of them after a failover. Learnt from the site at sign-in.
   */
  alsoTrust?: string[];
  /**
   * The SHA-256 fingerprint of the site certificate authority: every appliance of the site
   * presents a certificate it issued when asked (S20). Given, or learnt from the site at sign-in.
   */
  siteCa?: string;
  /**
   * How `host` becomes an address when it is a name (default: the system resolver). The
   * orchestrator passes one that reads a hosts-file traffic switch's file, as clients would.
   */
  lookup?: LookupFunction;
}

/** Every fingerprint an endpoint accepts. */
export const trustedFingerprints = (e: Endpoint) =>
  [e.fingerprint, ...(e.alsoTrust ?? [])].filter(Boolean).map((f) => f.toUpperCase());

/** What an endpoint trusts: its certificates, and the site authority when it knows it. */
export const endpointTrust = (e: Endpoint): PinnedTrust =>
  trustOf({ fingerprints: trustedFingerprints(e), ...(e.siteCa ? { siteCa: e.siteCa } : {}) });

/** Parse HOST:PORT (IPv6 in brackets) of a `--site` option. */
export function parseSite(value: string, field = 'site'): { host: string; port: number } {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535)
    throw sharedErrors.VALIDATION_FAILED(
      `${field}: "${value}" is not HOST:PORT. Give the site hostname or address and its TLS port, e.g. support.example.com:443 or 127.0.0.1:8443.`,
      { fields: [{ field, message: 'must be HOST:PORT' }] },
    );
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Open a relay connection: TLS to the appliance (its certificate pinned by fingerprint, checked
 * before anything is sent), an HTTP upgrade to the gateway path with the ticket, and, once
 * answered 101, the raw socket. A refusal becomes the appliance's own error.
 */
export function openTunnel(
  endpoint: Endpoint,
  path: string,
  ticket: string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<TLSSocket> {
  const first = openTunnelOnce(endpoint, path, ticket, headers, timeoutMs);
  if (!fallsBack(endpointTrust(endpoint))) return first;
  // The appliance's own certificate, when pinned, is asked for when the site's is not trusted.
  return first.catch((e: unknown) => {
    if ((e as GatehouseError).code !== 'TLS_FINGERPRINT_MISMATCH') throw e;
    return openTunnelOnce({ ...endpoint, siteCa: undefined }, path, ticket, headers, timeoutMs);
  });
}

const notAnswered = (where: string, timeoutMs: number) =>
  sessionsErrors.SITE_UNREACHABLE(
    `${where} did not answer within ${timeoutMs / 1000} s. Check the site address and that the appliance runs.`,
    { status: 504 },
  );

const cannotReach = (where: string, e: NodeJS.ErrnoException) =>
  sessionsErrors.SITE_UNREACHABLE(
    `Cannot reach ${where}: ${e.code ?? e.message}. Check the site address and that the appliance runs.`,
  );

/** TLS over a TCP connection dialled with staggered attempts (the site address may be moving). */
async function openTunnelOnce(
  endpoint: Endpoint,
  path: string,
  ticket: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<TLSSocket> {
  const where = `${endpoint.host}:${endpoint.port}`;
  const started = Date.now();
  const tcp = await dialTcp({
    host: endpoint.host,
    port: endpoint.port,
    timeoutMs,
    ...(endpoint.lookup ? { lookup: endpoint.lookup } : {}),
  }).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ETIMEDOUT' ? notAnswered(where, timeoutMs) : cannotReach(where, e);
  });
  const left = timeoutMs - (Date.now() - started);
  return upgradeOver(tcp, endpoint, { path, ticket, headers }, left);
}

/** TLS over `tcp`, the appliance's certificate checked, then the HTTP upgrade with the ticket. */
function upgradeOver(
  tcp: Socket,
  endpoint: Endpoint,
  { path, ticket, headers }: { path: string; ticket: string; headers: Record<string, string> },
  timeoutMs: number,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const where = `${endpoint.host}:${endpoint.port}`;
    const trust = endpointTrust(endpoint);
    const socket = tls.connect({
      socket: tcp,
      servername: trust.siteCa
        ? SITE_IDENTITY_SERVERNAME
        : /^[\d.]+$|:/.test(endpoint.host)
          ? undefined
          : endpoint.host,
      rejectUnauthorized: false,
    });
    const fail = (e: Error) => {
      clearTimeout(timer);
      socket.destroy();
      tcp.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(notAnswered(where, timeoutMs)), Math.max(1, timeoutMs));
    socket.setNoDelay(true);
    socket.once('error', (e: NodeJS.ErrnoException) => fail(cannotReach(where, e)));
    socket.once('secureConnect', () => {
      const presented = untrustedPresented(socket, trust);
      if (presented) return fail(fingerprintMismatch(where, presented, describeTrust(trust)));
      const lines = [
        `GET ${path} HTTP/1.1`,
        `Host: ${where}`,
        'Connection: Upgrade',
        `Upgrade: ${UPGRADE_PROTOCOL}`,
        `Authorization: Bearer ${ticket}`,
        `X-Gatehouse-Version: ${PRODUCT_VERSION}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      let buffered = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buffered.length > 65_536) fail(new Error(`${where} sent an oversized answer`));
          return;
        }
        const head = buffered.subarray(0, end).toString('latin1');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
        if (status === 101) {
          socket.off('data', onData);
          clearTimeout(timer);
          socket.removeAllListeners('error');
          const rest = buffered.subarray(end + 4);
          if (rest.length) socket.unshift(rest);
          return resolve(socket);
        }
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        let problem: Partial<Problem> = {};
        try {
          problem = JSON.parse(buffered.subarray(end + 4, end + 4 + length).toString('utf8'));
        } catch {
          // Not one of ours: described by status below.
        }
        const retryAfter = /^retry-after: *(\S+)/im.exec(head)?.[1];
        fail(
          new GatehouseError(
            problem.code ?? `HTTP_${status}`,
            status || 502,
            problem.detail ?? `${where} refused the connection (HTTP ${status}).`,
            retryAfter ? { headers: { 'retry-after': retryAfter } } : {},
          ),
        );
      };
      socket.on('data', onData);
    });
  });
}
