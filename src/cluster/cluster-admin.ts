import type { Actor } from '../shared/actor.js';
import { GatehouseError } from '../shared/errors.js';
import { until } from '../shared/until.js';
import { fetchPeerFingerprint, PeerClient, peerLabel } from '../failover/peer-client.js';
import type { ClusterHost } from './cluster-host.js';
import type { NodeCopy } from './node-copy.js';
import type { NodeLinks, NodeView } from './node-links.js';
import type { TrafficNode } from './nodes-store.js';
import { clusterErrors } from './error-codes.js';

/** One node's part of an action on every node: what it answered, or why it failed. */
type NodeOutcome<T> = { node: string; ok: boolean; error?: string } & Partial<T>;

/** How the administration asks for a node's status now (the poll of cluster-service.ts). */
export interface Poller {
  poll(node: TrafficNode): Promise<void>;
  pollAll(): Promise<void>;
}

/**
 * /login > Management > Cluster on the primary node: add and remove traffic nodes, set their
 * Accepting New Client Connections, Cluster Sync Now, Distribute to Cluster, wait for a drain.
 */
export class ClusterAdmin {
  constructor(
    private readonly host: Pick<ClusterHost, 'name' | 'host' | 'key' | 'nodes' | 'events'>,
    private readonly links: NodeLinks,
    private readonly copy: NodeCopy,
    private readonly poller: Poller,
  ) {}

  private viewOf(name: string): NodeView {
    return this.links.view().find((n) => n.name === name)!;
  }

  /** Add a traffic node: pin its certificate, prove both hold the same key, and have it join. */
  async addNode(
    actor: Actor,
    input: { host: string; port: number; region: string; key: string; accepting: boolean },
  ): Promise<NodeView> {
    if (input.key !== this.host.key())
      throw clusterErrors.CLUSTER_KEY_MISMATCH(
        "key: is not this appliance's Inter-Appliance key. Set the same key on both appliances (Management > Security), then add the node with it.",
        {
          fields: [
            { field: 'key', message: "does not match this appliance's Inter-Appliance key" },
          ],
        },
      );
    const fingerprint = await this.fingerprintOf(input);
    const client = new PeerClient(
      { host: input.host, port: input.port },
      fingerprint,
      this.host.key,
      this.host.name,
    );
    try {
      const hello = await client.call<{ name: string }>('POST', '/api/peer/hello', {});
      if (this.host.nodes.find(hello.name))
        throw clusterErrors.CLUSTER_NODE_EXISTS(
          `${hello.name} is already a traffic node of this cluster.`,
        );
      await client.call('POST', '/api/peer/cluster/join', {
        name: hello.name,
        region: input.region,
        accepting: input.accepting,
      });
      this.host.nodes.add(actor, {
        name: hello.name,
        host: input.host,
        port: input.port,
        fingerprint,
        region: input.region,
        accepting: input.accepting,
      });
      await this.copy.pushConfig(this.host.nodes.get(hello.name)).catch(() => undefined);
      await this.poller.poll(this.host.nodes.get(hello.name));
      return this.viewOf(hello.name);
    } finally {
      await client.close();
    }
  }

  /** The certificate fingerprint a new node presents; refused when it is this appliance's. */
  private async fingerprintOf(input: { host: string; port: number }): Promise<string> {
    const fields = (message: string) => [
      { field: 'host', message },
      { field: 'port', message },
    ];
    let fingerprint: string;
    try {
      fingerprint = await fetchPeerFingerprint({ host: input.host, port: input.port });
    } catch (e) {
      const err = e as GatehouseError;
      throw clusterErrors.CLUSTER_NODE_UNREACHABLE(err.message, {
        fields: fields('cannot be reached'),
      });
    }
    if (fingerprint === this.host.host().fingerprint)
      throw clusterErrors.CLUSTER_NODE_SELF(
        `${peerLabel(input)} is this appliance itself. Enter a traffic node's address.`,
        {
          fields: fields('is this appliance itself'),
        },
      );
    return fingerprint;
  }

  async removeNode(actor: Actor, name: string): Promise<void> {
    const node = this.host.nodes.get(name);
    const l = this.links.of(node);
    await this.copy.pullHistory(node).catch(() => undefined);
    // Its clients move from now (routing waits for them to land elsewhere).
    this.links.sendingAway(l, l.status?.jumpClients.map((c) => c.name) ?? []);
    await l.client.call('POST', '/api/peer/cluster/leave', {}).catch(() => undefined);
    this.host.nodes.remove(actor, name);
    this.links.forget((n) => n !== name);
  }

  async setAccepting(actor: Actor, name: string, accepting: boolean): Promise<NodeView> {
    const node = this.host.nodes.setAccepting(actor, name, accepting);
    await this.poller.poll(node);
    return this.viewOf(name);
  }

  /** Installing on the primary node: no traffic node takes new clients until re-enabled (S23). */
  stopAllAccepting(actor: Actor): void {
    for (const n of this.host.nodes.list())
      if (n.accepting) this.host.nodes.setAccepting(actor, n.name, false);
    void this.poller.pollAll();
  }

  /** Cluster Sync Now: configuration out to every node, history back from each (S26). */
  async syncNow(actor: Actor) {
    return this.onEachNode(actor, 'cluster.synced', '', async (n) => {
      await this.copy.pushConfig(n);
      return { pulled: await this.copy.pullHistory(n) };
    });
  }

  /** Distribute to Cluster: every node fetches the staged package, without installing (S22, S30). */
  async distribute(actor: Actor, id: string) {
    const primary = this.host.host();
    return this.onEachNode(actor, 'update.distributed-to-cluster', id, async (n) => {
      const staged = await this.links
        .of(n)
        .client.call<{ id: string }>('POST', '/api/peer/cluster/fetch-package', { id, primary });
      return { staged: staged.id };
    });
  }

  /** Run `each` on every node at once; one event records every node's outcome. */
  private async onEachNode<T extends object>(
    actor: Actor,
    action: string,
    target: string,
    each: (n: TrafficNode) => Promise<T>,
  ): Promise<{ results: NodeOutcome<T>[] }> {
    const results = await Promise.all(
      this.host.nodes.list().map(async (n): Promise<NodeOutcome<T>> => {
        try {
          return { node: n.name, ok: true, ...(await each(n)) };
        } catch (e) {
          // A failed node has none of the answer's fields.
          return { node: n.name, ok: false, error: (e as Error).message } as NodeOutcome<T>;
        }
      }),
    );
    this.host.events.record(
      actor,
      action,
      target,
      { results },
      results.every((r) => r.ok) ? 'ok' : 'failed',
    );
    return { results };
  }

  /** Wait until a node's connected clients reach zero, or the deadline (draining, S22). */
  async waitDrained(name: string, timeoutMs: number) {
    const node = this.host.nodes.get(name);
    const count = () => this.links.get(name)?.status?.connectedClients ?? Infinity;
    try {
      await until(
        async () => {
          await this.poller.poll(node);
          return count() === 0;
        },
        timeoutMs,
        `${name} to drain`,
        250,
      );
      return { node: name, drained: true, connectedClients: 0 };
    } catch {
      return { node: name, drained: false, connectedClients: count() };
    }
  }
}
