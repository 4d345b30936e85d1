import { Agent, request } from 'undici';
import { pinnedConnector } from '../../shared/pinned-tls.js';
import { GatehouseError, type Problem } from '../../shared/errors.js';
import {
  trafficError,
  type NatForwarderConfig,
  type TrafficSwitchProvider,
} from '../switch-config.js';
import { ForwarderTarget } from './forwarder.js';
import { trafficErrors } from '../error-codes.js';

/**
 * NAT swing through a `gatehouse nat-forwarder`: the provider calls the forwarder's control
 * API, trusting exactly the certificate whose fingerprint the forwarder printed.
 */
export class NatForwarderProvider implements TrafficSwitchProvider {
  readonly method = 'nat' as const;

  constructor(private readonly config: NatForwarderConfig) {}

  describe(): string {
    return `NAT swing through the Gatehouse NAT forwarder at ${this.config.control} (certificate ${this.config.fingerprint.slice(0, 11)}…)`;
  }

  async pointAt(target: { name: string; address: string; port?: number }): Promise<void> {
    await this.call('PUT', {
      address: target.address,
      port: target.port ?? this.config.defaultPort,
    });
  }

  async current(): Promise<{ address: string } | undefined> {
    const body = (await this.call('GET')) as { target?: unknown };
    const t = ForwarderTarget.safeParse(body.target);
    return t.success ? { address: t.data.address } : undefined;
  }

  private async call(method: 'GET' | 'PUT', json?: unknown): Promise<unknown> {
    const c = this.config;
    const agent = new Agent({
      connect: pinnedConnector(c.fingerprint),
      connectTimeout: c.timeoutMs,
      headersTimeout: c.timeoutMs,
      bodyTimeout: c.timeoutMs,
    });
    try {
      const res = await request(`https://${c.control}/target`, {
        method,
        dispatcher: agent,
        headers: {
          authorization: `Bearer ${c.token}`,
          accept: 'application/json',
          ...(json === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: json === undefined ? undefined : JSON.stringify(json),
      });
      const text = await res.body.text();
      const body: unknown = text ? JSON.parse(text) : undefined;
      if (res.statusCode === 200) return body;
      const p = body as Partial<Problem> | undefined;
      throw new GatehouseError(
        p?.code ?? `TRAFFIC_NAT_FORWARDER_HTTP_${res.statusCode}`,
        res.statusCode === 401 ? 401 : 502,
        p?.detail ?? `The NAT forwarder at ${c.control} answered HTTP ${res.statusCode}.`,
        { fields: p?.errors ?? [] },
      );
    } catch (e) {
      if (e instanceof GatehouseError) throw e;
      const cause = (e as { cause?: unknown }).cause;
      if (cause instanceof GatehouseError) throw cause;
      throw trafficError(
        trafficErrors.TRAFFIC_NAT_FORWARDER_UNREACHABLE,
        `control: cannot reach the NAT forwarder control API at ${c.control} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that it runs and the address is its --control address.`,
        { field: 'control', cause: e },
      );
    } finally {
      await agent.close();
    }
  }
}
