import { PeerClient } from '../failover/peer-client.js';
import type { ClusterHost } from './cluster-host.js';
import type { NodeStatus } from './node-routes.js';
import type { TrafficNode } from './nodes-store.js';
import { OnePoll } from './one-poll.js';
import { eligibleNode } from './routing-rules.js';

/** How long after a node is told to send its clients away they are taken to be moving. */
export const MOVING_MS = 10_000;

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
  /** When it was last told to send its clients away (stop accepting, leave the cluster). */
  sentAwayAt: number | undefined;
  /** Its polls, one at a time. */
  polls: OnePoll;
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
        sentAwayAt: undefined,
        polls: new OnePoll(),
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

  /** A node sending its clients away (told to stop accepting or to leave) gets none. */
  eligible(n: TrafficNode): boolean {
    const l = this.links.get(n.name);
    return l?.sentAwayAt === undefined && eligibleNode(n, l, this.host.version, Date.now());
  }

  /** Clients that nodes were told to send away, and when (kept after a node leaves). */
  private readonly sentAway = new Map<string, number>();

  /** A node is told to send these clients away (a drain, a leave): they are moving now. */
  sendingAway(l: NodeLink, clients: Iterable<string>): void {
    const now = Date.now();
    l.sentAwayAt = now;
    for (const [name, at] of this.sentAway) if (now - at >= MOVING_MS) this.sentAway.delete(name);
    for (const name of clients) this.sentAway.set(name, now);
  }

  /** Whether this client was sent away from a node within MOVING_MS (it may be on none yet). */
  recentlySentAway(client: string): boolean {
    const at = this.sentAway.get(client);
    return at !== undefined && Date.now() - at < MOVING_MS;
  }

  /**
   * Whether the node's clients are moving away now: it was told to send them away within
   * MOVING_MS, or it is set not accepting and is being told (its last status still accepting).
   */
  movingAway(n: TrafficNode): boolean {
    const l = this.links.get(n.name);
    if (!l) return false;
    if (l.sentAwayAt !== undefined) return Date.now() - l.sentAwayAt < MOVING_MS;
    return !n.accepting && !l.lastError && l.status?.membership?.accepting === true;
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
