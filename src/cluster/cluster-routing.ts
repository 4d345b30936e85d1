import { setTimeout as sleep } from 'node:timers/promises';
import { SYSTEM } from '../shared/actor.js';
import {
  jumpClientNotConnected,
  siteJumpClient,
  type ClientRouting,
  type Relay,
  type SiteJumpClient,
} from '../sessions/routing.js';
import type { ClusterHost } from './cluster-host.js';
import type { NodeLinks } from './node-links.js';
import { within } from './one-poll.js';
import type { TrafficNode } from './nodes-store.js';
import { chooseNode } from './routing-rules.js';

/** How long a session start waits for a Jump Client moving off a draining node to land. */
export const LANDING_WAIT_MS = 5_000;
/** How often it asks the nodes afresh meanwhile (the regular poll is every second). */
const LANDING_POLL_MS = 50;
/**
 * How long one round waits for those polls: a hung node's poll (1.5 s per call) must not keep
 * the others, which answer in milliseconds, from being asked again meanwhile.
 */
const LANDING_ROUND_MS = 300;
/** Recorded when that wait ran out and the leg goes where the client was last listed. */
export const LANDING_WAIT_EXPIRED = 'cluster.landing-wait-expired';

const relayOf = (n: TrafficNode): Relay => ({
  node: n.name,
  host: n.host,
  port: n.port,
  fingerprint: n.fingerprint,
});

/**
 * Where the primary node sends clients: a new one to an eligible node of its region
 * (`chooseNode`), a console to the node its Jump Client is connected to. `refresh` polls every
 * node now.
 */
export class ClusterRouting implements ClientRouting {
  constructor(
    private readonly host: Pick<ClusterHost, 'name' | 'nodes' | 'gateway' | 'events' | 'log'>,
    private readonly links: NodeLinks,
    private readonly refresh: () => Promise<void>,
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

  /**
   * The node relaying sessions to this Jump Client; null for this primary node itself. A Jump
   * Client listed on a node that is sending its clients away (a drain, a leave) is moving: the
   * listing is what the node said before, and where it went is known only at that node's next
   * poll. A leg sent there would find it gone and be refused, so the nodes are asked afresh
   * until it is listed on a node that keeps it (LANDING_WAIT_MS at most; then where it is
   * listed, as a client that stays is served there, recorded as LANDING_WAIT_EXPIRED). A hung
   * node's poll does not hold the wait past its deadline.
   */
  async relayForJumpClient(name: string): Promise<Relay | null> {
    const start = Date.now();
    const deadline = start + LANDING_WAIT_MS;
    for (;;) {
      const late = Date.now() >= deadline;
      const node = late ? this.holderOf(name) : this.holderOrMoving(name);
      if (node === null) return null;
      const moving = node && this.links.movingAway(node);
      if (node && (late || !moving)) {
        if (moving) this.expired(name, node, Date.now() - start);
        return relayOf(node);
      }
      if (await within(this.refresh(), Math.min(LANDING_ROUND_MS, deadline - Date.now())))
        await sleep(Math.min(LANDING_POLL_MS, Math.max(0, deadline - Date.now())));
    }
  }

  /** The wait ran out: the leg goes to a node the client is leaving and may be refused there. */
  private expired(client: string, node: TrafficNode, waitedMs: number): void {
    const detail = { node: node.name, waitedMs };
    this.host.log('a moving Jump Client did not land in time; its session goes where it was', {
      client,
      ...detail,
    });
    this.host.events.record(SYSTEM, LANDING_WAIT_EXPIRED, client, detail, 'failed');
  }

  /** holderOf, or undefined for a client sent away that is listed nowhere yet (on its way). */
  private holderOrMoving(name: string): TrafficNode | null | undefined {
    try {
      return this.holderOf(name);
    } catch (e) {
      if (this.links.recentlySentAway(name)) return undefined;
      throw e;
    }
  }

  /**
   * The node the Jump Client is connected to, by what the nodes last reported (the latest
   * connection where it is listed twice); null when it is connected to this primary node.
   */
  private holderOf(name: string): TrafficNode | null {
    let found: { node: TrafficNode; at: number } | undefined;
    for (const n of this.host.nodes.list()) {
      const j = this.links.get(n.name)?.status?.jumpClients.find((c) => c.name === name);
      if (j && (!found || j.connectedAt > found.at)) found = { node: n, at: j.connectedAt };
    }
    const here = this.host.gateway.jumpClient(name);
    if (here && (!found || here.connectedAt > found.at)) return null;
    if (!found) throw jumpClientNotConnected(name);
    return found.node;
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
