import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplianceClient, toError } from './admin-client.js';
import { endpointTrust, type Endpoint } from './tunnel.js';
import type { Relay, SiteJumpClient } from '../sessions/routing.js';

export interface SiteInfo {
  name: string;
  appliance: string;
  productVersion: string;
  /** Certificates of every appliance of the site (failover peer, traffic nodes). */
  fingerprints?: string[];
  /** The site certificate authority's fingerprint (S20); a site of the previous release has none. */
  siteCa?: string;
}

/**
 * The connection failed or broke, or the appliance cannot serve now (503: a backup, a draining
 * node, an install in progress): worth one fresh try through the site.
 */
export function isConnectionError(e: unknown): boolean {
  const { code = '', status } = (e ?? {}) as { code?: string; status?: number };
  return (
    status === 503 ||
    /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|UND_ERR_SOCKET|UND_ERR_CLOSED|UND_ERR_CONNECT_TIMEOUT|SITE_UNREACHABLE)$/.test(
      code,
    )
  );
}

/** The client API of a site (`/api/client/*`), as consoles and Jump Clients call it. */
export class SiteApi {
  private http: ApplianceClient;

  constructor(readonly endpoint: Endpoint) {
    this.http = this.connect();
  }

  private connect(): ApplianceClient {
    const host = this.endpoint.host.includes(':') ? `[${this.endpoint.host}]` : this.endpoint.host;
    return new ApplianceClient(
      `https://${host}:${this.endpoint.port}`,
      { fingerprint: endpointTrust(this.endpoint) },
      { connections: 4, lookup: this.endpoint.lookup },
    );
  }

  private async call<T>(method: string, path: string, json?: unknown, ticket?: string): Promise<T> {
    const send = () =>
      this.http.call<T>(method, path, {
        json,
        auth: 'none',
        headers: ticket ? { authorization: `Bearer ${ticket}` } : {},
      });
    const reconnect = () => this.reconnect();
    // A kept-alive connection may still lead to the appliance the site hostname left: it became
    // the backup or released the shared address, or it is installing an update after the site
    // was switched away by DNS, a hosts file or NAT (it answers 503), or it is restarting (the
    // connection breaks). Either way, connect afresh — resolving the site name again — and ask
    // once more.
    let res;
    try {
      res = await send();
    } catch (e) {
      if (!isConnectionError(e)) throw e;
      reconnect();
      res = await send();
    }
    if (res.status === 503) {
      reconnect();
      res = await send();
    }
    if (res.status >= 300) throw toError(res);
    return res.body;
  }

  /** Drop the kept-alive connections: the next call connects (and resolves the site) afresh. */
  reconnect(): void {
    const old = this.http;
    this.http = this.connect();
    void old.close().catch(() => undefined);
  }

  signIn(body: { username: string; password: string; version: string; region?: string }) {
    return this.call<{ ticket: string; expiresAt: string; site: SiteInfo; relay: Relay | null }>(
      'POST',
      '/api/client/console/sign-in',
      body,
    );
  }

  /** Enrol this installation's public key under its name (once, with an enrolment token). */
  enrol(body: { name: string; group: string; token: string; publicKey: string; version: string }) {
    return this.call<{ installation: { id: string; name: string; fingerprint: string } }>(
      'POST',
      '/api/client/jump-clients/enrol',
      body,
    );
  }

  challenge(name: string) {
    return this.call<{ challenge: string }>('POST', '/api/client/jump-clients/challenge', { name });
  }

  /** Register with the installation's signature of a challenge; returns a Jump Client ticket. */
  register(body: {
    name: string;
    group: string;
    installation: string;
    challenge: string;
    signature: string;
    version: string;
    region?: string;
  }) {
    return this.call<{ ticket: string; expiresAt: string; site: SiteInfo; relay: Relay | null }>(
      'POST',
      '/api/client/jump-clients/register',
      body,
    );
  }

  /** A session key for a customer (console ticket). */
  sessionKey(ticket: string) {
    return this.call<{ key: string; customerClient: string; expiresAt: string }>(
      'POST',
      '/api/client/session-keys',
      {},
      ticket,
    );
  }

  /** A customer client joins with a session key, or reconnects with the ticket it got then. */
  joinAsCustomer(
    body: { key?: string; nonce?: string; version: string; region?: string },
    ticket?: string,
  ) {
    return this.call<{
      name: string;
      representative: string;
      ticket: string;
      expiresAt: string;
      site: SiteInfo;
      relay: Relay | null;
    }>('POST', '/api/client/customers/join', body, ticket);
  }

  jumpClients(ticket: string) {
    return this.call<{ jumpClients: SiteJumpClient[] }>(
      'GET',
      '/api/client/jump-clients',
      undefined,
      ticket,
    );
  }

  startSession(ticket: string, body: { jumpClient: string; target: string }) {
    return this.call<{ session: string; ticket: string; relay: Relay | null }>(
      'POST',
      '/api/client/sessions',
      body,
      ticket,
    );
  }

  /** Where a resumable session's console leg goes now (its Jump Client's appliance). */
  resumeRelay(ticket: string, session: string, jumpClient: string) {
    return this.call<{ relay: Relay | null }>(
      'POST',
      `/api/client/sessions/${encodeURIComponent(session)}/relay`,
      { jumpClient },
      ticket,
    );
  }

  async recording(ticket: string, session: string): Promise<Buffer> {
    return this.call<Buffer>(
      'GET',
      `/api/client/sessions/${encodeURIComponent(session)}/recording`,
      undefined,
      ticket,
    );
  }

  consoleBuilds(ticket: string) {
    return this.call<{
      siteVersion: string;
      builds: { version: string; size: number; sha256: string; current: boolean }[];
    }>('GET', '/api/client/console/builds', undefined, ticket);
  }

  /** Stream the console build of the site's version into `file`; returns its version header. */
  downloadConsoleBuild(ticket: string, file: string): Promise<string | undefined> {
    return this.downloadBuild('/api/client/console/build', ticket, file);
  }

  /** Stream the Jump Client build of the site's version into `file` (S13). */
  downloadJumpClientBuild(ticket: string, file: string): Promise<string | undefined> {
    return this.downloadBuild('/api/client/jump-clients/build', ticket, file);
  }

  private async downloadBuild(
    path: string,
    ticket: string,
    file: string,
  ): Promise<string | undefined> {
    const res = await this.http.call<Readable>('GET', path, {
      auth: 'none',
      headers: { authorization: `Bearer ${ticket}` },
      stream: true,
    });
    if (res.status !== 200) {
      const text = await streamText(res.body);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      throw toError({ ...res, body });
    }
    await pipeline(res.body, createWriteStream(file, { mode: 0o600 }));
    const version = res.headers['x-gatehouse-version'];
    return typeof version === 'string' ? version : undefined;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

async function streamText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Where to open relay connections: the relay the site named, else the site itself. */
export const relayEndpoint = (site: Endpoint, relay: Relay | null): Endpoint =>
  relay
    ? {
        host: relay.host,
        port: relay.port,
        fingerprint: relay.fingerprint,
        ...(site.siteCa ? { siteCa: site.siteCa } : {}),
      }
    : site;

/**
 * The site endpoint, trusting every certificate the site named (it may fail over to them) and
 * the site's certificate authority, learnt over this pinned connection when not given.
 */
export const siteEndpoint = (site: Endpoint, info: SiteInfo): Endpoint => ({
  ...site,
  alsoTrust: [...new Set([...(site.alsoTrust ?? []), ...(info.fingerprints ?? [])])],
  ...((site.siteCa ?? info.siteCa) ? { siteCa: site.siteCa ?? info.siteCa } : {}),
});
