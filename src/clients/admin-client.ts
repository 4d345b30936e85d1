import { Agent, request } from 'undici';
import type { LookupFunction } from 'node:net';
import { pinnedConnector, type PinnedTrust } from '../shared/pinned-tls.js';
import type { Readable } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import { GatehouseError, type Problem } from '../shared/errors.js';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/**
 * HTTPS client of one appliance's admin API. It trusts exactly the appliance's own certificate
 * (pinned by PEM, or by SHA-256 fingerprint), never the system CAs. Used by the CLI, tests,
 * benchmarks and the orchestrator.
 */
export class ApplianceClient {
  readonly agent: Agent;
  private tokens: Partial<Record<'appliance' | 'login', string>> = {};

  constructor(
    readonly baseUrl: string,
    trust: { certPem: string } | { fingerprint: string | string[] | PinnedTrust },
    opts: { connections?: number; lookup?: LookupFunction; localAddress?: string } = {},
  ) {
    this.agent = new Agent({
      // The source address: tests speak as several machines from one loopback (127.0.0.0/8).
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      connect:
        'certPem' in trust
          ? { ca: trust.certPem, ...(opts.lookup ? { lookup: opts.lookup } : {}) }
          : pinnedConnector(trust.fingerprint, opts.lookup),
      connections: opts.connections ?? 16,
    });
  }

  async signIn(
    area: 'appliance' | 'login',
    username: string,
    password: string,
  ): Promise<{ token: string; csrfToken: string }> {
    const res = await this.call<{ token: string; csrfToken: string }>(
      'POST',
      `/api/${area}/session`,
      { json: { username, password } },
    );
    if (res.status !== 201) throw toError(res);
    this.tokens[area] = res.body.token;
    return res.body;
  }

  useToken(area: 'appliance' | 'login', token: string): void {
    this.tokens[area] = token;
  }

  tokenFor(area: 'appliance' | 'login'): string | undefined {
    return this.tokens[area];
  }

  /** One request; the area's bearer token is sent when the path is in that area. */
  async call<T = unknown>(
    method: string,
    path: string,
    opts: {
      json?: unknown;
      raw?: Buffer | Readable;
      headers?: Record<string, string>;
      auth?: 'appliance' | 'login' | 'none';
      stream?: boolean;
    } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    const area =
      opts.auth ??
      (path.startsWith('/api/appliance/')
        ? 'appliance'
        : path.startsWith('/api/login/')
          ? 'login'
          : 'none');
    if (area !== 'none' && this.tokens[area]) headers.authorization = `Bearer ${this.tokens[area]}`;
    let body: string | Buffer | Readable | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.raw !== undefined) {
      headers['content-type'] ??= 'application/octet-stream';
      body = opts.raw;
    }
    const res = await request(new URL(path, this.baseUrl), {
      method: method as 'GET',
      headers,
      body,
      dispatcher: this.agent,
    });
    const type = String(res.headers['content-type'] ?? '');
    let parsed: unknown;
    if (opts.stream) parsed = res.body;
    else if (type.includes('json')) {
      const text = await res.body.text();
      parsed = text ? JSON.parse(text) : undefined;
    } else if (type.startsWith('text/')) parsed = await res.body.text();
    else parsed = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body: parsed as T };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

export function toError(res: ApiResponse): GatehouseError {
  const p = res.body as Partial<Problem> | undefined;
  return new GatehouseError(
    p?.code ?? `HTTP_${res.status}`,
    res.status,
    p?.detail ?? `The appliance answered HTTP ${res.status}.`,
    {
      fields: p?.errors ?? [],
      // A busy appliance's "come back in" (429, 503): the client waits as long.
      ...(typeof res.headers['retry-after'] === 'string'
        ? { headers: { 'retry-after': res.headers['retry-after'] } }
        : {}),
    },
  );
}

/** SHA-256 fingerprint of a PEM certificate, as shown at appliance start. */
export const fingerprintOf = (certPem: string) => new X509Certificate(certPem).fingerprint256;
