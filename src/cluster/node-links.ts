import { PeerClient } from '../failover/peer-client.js';
import type { ClusterHost } from './cluster-host.js';
import type { NodeStatus } from './node-routes.js';
import type { TrafficNode } from './nodes-store.js';
import { eligibleNode } from './routing-rules.js';

/** What the primary node knows of one traffic node between polls. */
export interface NodeLink {
  client: PeerClient;
  status: NodeStatus | null;
  lastContact: number | null;
  lastError: string | null;
  /** Clients sent there since its last status (spreads a burst between polls). */
  assigned: number;
  pulling: boolean;
  /** The configuration version the node last took (undefined: not pushed since this start). */
  pushedVersion: number | undefined;
}

export interface NodeView extends TrafficNode {
  /** What the node last reported; null until first contact. */
  status: NodeStatus | null;
  lastContact: number | null;
  lastError: string | null;
  /** Gets new clients now: accepting, reachable, ready and on the primary's version. */
  eligible: boolean;
}

/**
 * The primary node's connection to each traffic node (a pinned peer client) and what it last
 * heard from it. A node whose address or certificate changed gets a new connection.
 */
export class NodeLinks {
  private readonly links = new Map<string, NodeLink>();

  constructor(private readonly host: Pick<ClusterHost, 'name' | 'version' | 'key' | 'nodes'>) {}

  of(node: TrafficNode): NodeLink {
    let l = this.links.get(node.name);
    if (
      l &&
      (l.client.fingerprint !== node.fingerprint ||
        l.client.address.host !== node.host ||
        l.client.address.port !== node.port)
    ) {
      void l.client.close();
      l = undefined;
    }
    if (!l) {
      l = {
        client: new PeerClient(
          { host: node.host, port: node.port },
          node.fingerprint,
          this.host.key,
          this.host.name,
        ),
        status: null,
        lastContact: null,
        lastError: null,
        assigned: 0,
        pulling: false,
        pushedVersion: undefined,
      };
      this.links.set(node.name, l);
    }
    return l;
  }

  get(name: string): NodeLink | undefined {
    return this.links.get(name);
  }

  /** Close and forget the links of nodes that are not (or no longer) in `keep`. */
  forget(keep: (name: string) => boolean = () => false): void {
    for (const [name, l] of this.links)
      if (!keep(name)) {
        void l.client.close();
        this.links.delete(name);
      }
  }

  eligible(n: TrafficNode): boolean {
    return eligibleNode(n, this.links.get(n.name), this.host.version, Date.now());
  }

  view(): NodeView[] {
    return this.host.nodes.list().map((n) => {
      const l = this.links.get(n.name);
      return {
        ...n,
        status: l?.status ?? null,
        lastContact: l?.lastContact ?? null,
        lastError: l?.lastError ?? null,
        eligible: this.eligible(n),
      };
    });
  }
}
