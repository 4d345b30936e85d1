import type { Actor } from '../shared/actor.js';
import type { ClientRouting, Relay, SiteJumpClient } from '../sessions/routing.js';
import { ClusterAdmin } from './cluster-admin.js';
import type { ClusterHost } from './cluster-host.js';
import { ClusterRouting } from './cluster-routing.js';
import { NodeCopy } from './node-copy.js';
import { NodeLinks, type NodeLink, type NodeView } from './node-links.js';
import type { NodeStatus } from './node-routes.js';
import type { TrafficNode } from './nodes-store.js';

export type { ClusterHost } from './cluster-host.js';
export type { NodeView } from './node-links.js';

const POLL_MS = 1_000;
/** A node's status and Accepting calls answer in milliseconds; a hung node is given up on. */
export const POLL_CALL_TIMEOUT_MS = 1_500;

/**
 * The primary node's side of a cluster: polls every traffic node each second, keeps each
 * node's Accepting New Client Connections as configured, pulls session records, logs and
 * recordings back and pushes configuration (`NodeCopy`), routes each new client to an
 * accepting node of its region on the primary's version (`ClusterRouting`), and is
 * administered through `ClusterAdmin`. This class is the face the appliance holds.
 */
export class ClusterService implements ClientRouting {
  private timer: NodeJS.Timeout | undefined;
  private readonly links: NodeLinks;
  private readonly copy: NodeCopy;
  private readonly routing: ClusterRouting;
  private readonly admin: ClusterAdmin;

  constructor(private readonly host: ClusterHost) {
    this.links = new NodeLinks(host);
    this.copy = new NodeCopy(host, this.links);
    // Each node's polls are shared already (OnePoll): a hung node holds only its own.
    this.routing = new ClusterRouting(host, this.links, () => this.pollAll());
    this.admin = new ClusterAdmin(host, this.links, this.copy, {
      poll: (node) => this.poll(node),
      pollAll: () => this.pollAll(),
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.pollAll(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.links.forget();
  }

  /** Whether this appliance is a primary node (it has traffic nodes and is not a backup). */
  get isPrimaryNode(): boolean {
    return this.host.active() && this.host.nodes.list().length > 0;
  }

  async pollAll(): Promise<void> {
    if (!this.host.active()) return;
    const nodes = this.host.nodes.list();
    this.links.forget((name) => nodes.some((n) => n.name === name));
    await Promise.all(nodes.map((n) => this.poll(n)));
  }

  private poll(node: TrafficNode): Promise<void> {
    const l = this.links.of(node);
    return l.polls.run(() => this.pollOnce(this.host.nodes.find(node.name) ?? node, l));
  }

  private async pollOnce(node: TrafficNode, l: NodeLink): Promise<void> {
    try {
      let status = await l.client.call<NodeStatus>(
        'GET',
        '/api/peer/cluster/status',
        undefined,
        POLL_CALL_TIMEOUT_MS,
      );
      if (status.membership && status.membership.accepting !== node.accepting) {
        const held = status.jumpClients.map((c) => c.name);
        status = await l.client.call<NodeStatus>(
          'POST',
          '/api/peer/cluster/accepting',
          {
            accepting: node.accepting,
            ...(node.accepting ? {} : { sendTo: this.sendTo(node.region) }),
          },
          POLL_CALL_TIMEOUT_MS,
        );
        // Its clients move from now: its listing of them is stale until they land (routing).
        if (!node.accepting)
          this.links.sendingAway(l, [...held, ...status.jumpClients.map((c) => c.name)]);
      }
      // Accepting on both sides: whatever told it to send its clients away is over.
      if (node.accepting && status.membership?.accepting) l.sentAwayAt = undefined;
      l.status = status;
      l.lastContact = Date.now();
      l.lastError = null;
      l.assigned = 0;
      if (!l.pulling && this.copy.hasNewHistory(node))
        void this.copy
          .pullHistory(node)
          .catch((e: unknown) =>
            this.host.log('cluster history pull failed', { node: node.name, err: String(e) }),
          );
    } catch (e) {
      l.lastError = (e as Error).message;
      return;
    }
    if (this.copy.siteCaDiffers(node)) await this.copy.pushSiteCa(node);
    // A revocation (a user, a Jump Client installation) reaches the node within a poll.
    if (!this.copy.configCurrent(node))
      await this.copy
        .pushConfig(node)
        .catch((e: unknown) =>
          this.host.log('cluster configuration push failed', { node: node.name, err: String(e) }),
        );
  }

  /**
   * Where a node that stops accepting sends its clients: an accepting node of its region (of
   * another if none), else this primary node, which relays them itself. Straight there, not
   * through the site's name, which may still lead to an appliance that refuses them.
   */
  private sendTo(region: string): Relay {
    return this.routing.relayForNewClient(region) ?? { node: this.host.name, ...this.host.host() };
  }

  view(): NodeView[] {
    return this.links.view();
  }

  // --- ClientRouting ------------------------------------------------------------------------

  relayForNewClient(region: string | undefined): Relay | null {
    return this.routing.relayForNewClient(region);
  }

  relayForJumpClient(name: string): Promise<Relay | null> {
    return this.routing.relayForJumpClient(name);
  }

  jumpClients(): SiteJumpClient[] {
    return this.routing.jumpClients();
  }

  // --- administration (ClusterAdmin) --------------------------------------------------------

  addNode(actor: Actor, input: Parameters<ClusterAdmin['addNode']>[1]): Promise<NodeView> {
    return this.admin.addNode(actor, input);
  }

  removeNode(actor: Actor, name: string): Promise<void> {
    return this.admin.removeNode(actor, name);
  }

  setAccepting(actor: Actor, name: string, accepting: boolean): Promise<NodeView> {
    return this.admin.setAccepting(actor, name, accepting);
  }

  stopAllAccepting(actor: Actor): void {
    this.admin.stopAllAccepting(actor);
  }

  syncNow(actor: Actor) {
    return this.admin.syncNow(actor);
  }

  distribute(actor: Actor, id: string) {
    return this.admin.distribute(actor, id);
  }

  waitDrained(name: string, timeoutMs: number) {
    return this.admin.waitDrained(name, timeoutMs);
  }
}
