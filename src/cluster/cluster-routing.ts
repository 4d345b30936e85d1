import {
  jumpClientNotConnected,
  siteJumpClient,
  type ClientRouting,
  type Relay,
  type SiteJumpClient,
} from '../sessions/routing.js';
import type { ClusterHost } from './cluster-host.js';
import type { NodeLinks } from './node-links.js';
import type { TrafficNode } from './nodes-store.js';
import { chooseNode } from './routing-rules.js';

const relayOf = (n: TrafficNode): Relay => ({
  node: n.name,
  host: n.host,
  port: n.port,
  fingerprint: n.fingerprint,
});

/**
 * Where the primary node sends clients: a new one to an eligible node of its region
 * (`chooseNode`), a console to the node its Jump Client is connected to.
 */
export class ClusterRouting implements ClientRouting {
  constructor(
    private readonly host: Pick<ClusterHost, 'name' | 'nodes' | 'gateway' | 'log'>,
    private readonly links: NodeLinks,
  ) {}

  relayForNewClient(region: string | undefined): Relay | null {
    const eligible = this.host.nodes.list().filter((n) => this.links.eligible(n));
    const best = chooseNode(eligible, region, (n) => {
      const l = this.links.get(n.name)!;
      return (l.status?.connectedClients ?? 0) + l.assigned;
    });
    if (!best) {
      // No traffic node can take it: the primary node relays it itself rather than refuse.
      if (this.host.nodes.list().length)
        this.host.log('no traffic node accepts new clients; relaying here');
      return null;
    }
    this.links.get(best.name)!.assigned++;
    return relayOf(best);
  }

  relayForJumpClient(name: string): Relay | null {
    let found: { node: TrafficNode; at: number } | undefined;
    for (const n of this.host.nodes.list()) {
      const j = this.links.get(n.name)?.status?.jumpClients.find((c) => c.name === name);
      if (j && (!found || j.connectedAt > found.at)) found = { node: n, at: j.connectedAt };
    }
    const here = this.host.gateway.jumpClient(name);
    if (here && (!found || here.connectedAt > found.at)) return null;
    if (!found) throw jumpClientNotConnected(name);
    return relayOf(found.node);
  }

  jumpClients(): SiteJumpClient[] {
    const out = this.host.gateway
      .list()
      .filter((c) => c.kind !== 'representative-console')
      .map((c) => siteJumpClient(c, this.host.name));
    for (const n of this.host.nodes.list())
      for (const j of this.links.get(n.name)?.status?.jumpClients ?? [])
        // A traffic node of the previous release reports no kind: all its clients are Jump Clients.
        out.push({ ...j, kind: j.kind ?? 'jump-client', node: n.name });
    return out;
  }
}
