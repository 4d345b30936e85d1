import { GatehouseError } from '../shared/errors.js';
import type { ConnectedClient } from './gateway-state.js';
import type { Relay } from './protocol.js';
import { sessionsErrors } from './error-codes.js';

export type { Relay } from './protocol.js';

export interface SiteJumpClient extends Omit<ConnectedClient, 'sessions' | 'id' | 'address'> {
  /** The appliance it is connected to. */
  node: string;
  sessions: number;
}

/**
 * Where the site sends clients. A standalone appliance or failover primary relays everything
 * itself (`relay: null`: "use the address you already use"); the primary node of a cluster
 * replaces this with one that picks traffic nodes (src/cluster).
 */
export interface ClientRouting {
  /** The appliance a new Jump Client or console should connect to. */
  relayForNewClient(region: string | undefined): Relay | null;
  /** The appliance relaying sessions to this Jump Client; an error when it is not connected. */
  relayForJumpClient(name: string): Promise<Relay | null>;
  /** Every connected Jump Client of the site, customer clients included. */
  jumpClients(): SiteJumpClient[];
}

export function jumpClientNotConnected(name: string): GatehouseError {
  return sessionsErrors.JUMP_CLIENT_NOT_CONNECTED(
    `Jump Client "${name}" is not connected to the site. List the connected ones with \`gatehouse console jump-clients\`.`,
    { fields: [{ field: 'jumpClient', message: 'is not connected' }] },
  );
}

export const siteJumpClient = (c: ConnectedClient, node: string): SiteJumpClient => ({
  kind: c.kind,
  name: c.name,
  group: c.group,
  ...(c.representative ? { representative: c.representative } : {}),
  version: c.version,
  connectedAt: c.connectedAt,
  targets: c.targets,
  node,
  sessions: c.sessions.length,
});

/** What LocalRouting reads of this appliance's gateway (gateway.ts): its connected clients. */
interface ConnectedClients {
  jumpClient(name: string): ConnectedClient | undefined;
  list(): ConnectedClient[];
}

/** This appliance relays every client itself. */
export class LocalRouting implements ClientRouting {
  constructor(
    private readonly gateway: ConnectedClients,
    private readonly node: string,
  ) {}

  relayForNewClient(): Relay | null {
    return null;
  }

  relayForJumpClient(name: string): Promise<Relay | null> {
    if (!this.gateway.jumpClient(name)) return Promise.reject(jumpClientNotConnected(name));
    return Promise.resolve(null);
  }

  jumpClients(): SiteJumpClient[] {
    return this.gateway
      .list()
      .filter((c) => c.kind !== 'representative-console')
      .map((c) => siteJumpClient(c, this.node));
  }
}
