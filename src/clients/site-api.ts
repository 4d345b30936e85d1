import { ApplianceClient, toError } from './admin-client.js';
import { trustedFingerprints, type Endpoint } from './tunnel.js';
import type { Relay, SiteJumpClient } from '../sessions/routing.js';

export interface SiteInfo {
  name: string;
  appliance: string;
  productVersion: string;
  /** Certificates of every appliance of the site (failover peer, traffic nodes). */
  fingerprints?: string[];
}

/** The client API of a site (`/api/client/*`), as consoles and Jump Clients call it. */
export class SiteApi {
  private readonly http: ApplianceClient;

  constructor(readonly endpoint: Endpoint) {
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
    this.http = new ApplianceClient(
      `https://${host}:${endpoint.port}`,
      { fingerprint: trustedFingerprints(endpoint) },
      { connections: 4 },
    );
  }

  private async call<T>(method: string, path: string, json?: unknown, ticket?: string): Promise<T> {
    const res = await this.http.call<T>(method, path, {
      json,
      auth: 'none',
      headers: ticket ? { authorization: `Bearer ${ticket}` } : {},
    });
    if (res.status >= 300) throw toError(res);
    return res.body;
  }

  signIn(body: { username: string; password: string; version: string; region?: string }) {
    return this.call<{ ticket: string; expiresAt: string; site: SiteInfo; relay: Relay | null }>(
      'POST',
      '/api/client/console/sign-in',
      body,
    );
  }

  register(body: { name: string; group: string; key: string; version: string; region?: string }) {
    return this.call<{ ticket: string; expiresAt: string; site: SiteInfo; relay: Relay | null }>(
      'POST',
      '/api/client/jump-clients/register',
      body,
    );
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

  async recording(ticket: string, session: string): Promise<Buffer> {
    return this.call<Buffer>(
      'GET',
      `/api/client/sessions/${encodeURIComponent(session)}/recording`,
      undefined,
      ticket,
    );
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/** Where to open relay connections: the relay the site named, else the site itself. */
export const relayEndpoint = (site: Endpoint, relay: Relay | null): Endpoint =>
  relay ? { host: relay.host, port: relay.port, fingerprint: relay.fingerprint } : site;

/** The site endpoint, trusting every certificate the site named (it may fail over to them). */
export const siteEndpoint = (site: Endpoint, info: SiteInfo): Endpoint => ({
  ...site,
  alsoTrust: [...new Set([...(site.alsoTrust ?? []), ...(info.fingerprints ?? [])])],
});
