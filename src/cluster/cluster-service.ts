import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { BlobStore } from '../store/blobs.js';
import type { Db } from '../store/db.js';
import { mergeRecords } from '../site/site-data.js';
import { GatehouseError } from '../shared/errors.js';
import { until } from '../shared/until.js';
import { fetchPeerFingerprint, PeerClient, peerLabel } from '../failover/peer-client.js';
import type { ClientGateway } from '../sessions/gateway.js';
import {
  jumpClientNotConnected,
  siteJumpClient,
  type ClientRouting,
  type Relay,
  type SiteJumpClient,
} from '../sessions/routing.js';
import type { ClusterNodes, TrafficNode } from './nodes-store.js';
import { CONFIG_TABLES, HISTORY_TABLES, type NodeStatus } from './node-routes.js';

const POLL_MS = 1_000;
/** A node not heard from for this long gets no new clients. */
const STALE_MS = 5_000;

export interface NodeView extends TrafficNode {
  /** What the node last reported; null until first contact. */
  status: NodeStatus | null;
  lastContact: number | null;
  lastError: string | null;
  /** Gets new clients now: accepting, reachable, ready and on the primary's version. */
  eligible: boolean;
}

export interface ClusterHost {
  name: string;
  version: string;
  host: () => { host: string; port: number; fingerprint: string };
  key: () => string;
  db: Db;
  blobs: BlobStore;
  events: EventLog;
  nodes: ClusterNodes;
  gateway: ClientGateway;
  /** Raised by every change of the configuration the nodes get (users, settings, installations). */
  configVersion: () => number;
  /** True while this appliance acts as the primary node (not a failover backup). */
  active: () => boolean;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Live {
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

/**
 * The primary node's side of a cluster: polls every traffic node, keeps each node's
 * Accepting New Client Connections as configured, pulls session records, logs and recordings
 * back, pushes configuration (Sync Now), and routes each new client to an accepting node of
 * its region on the primary's version.
 */
export class ClusterService implements ClientRouting {
  private readonly live = new Map<string, Live>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: ClusterHost) {}

  start(): void {
    this.timer = setInterval(() => void this.pollAll(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const l of this.live.values()) void l.client.close();
    this.live.clear();
  }

  /** Whether this appliance is a primary node (it has traffic nodes and is not a backup). */
  get isPrimaryNode(): boolean {
    return this.host.active() && this.host.nodes.list().length > 0;
  }

  private liveOf(node: TrafficNode): Live {
    let l = this.live.get(node.name);
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
      this.live.set(node.name, l);
    }
    return l;
  }

  async pollAll(): Promise<void> {
    if (!this.host.active()) return;
    const nodes = this.host.nodes.list();
    for (const name of this.live.keys())
      if (!nodes.some((n) => n.name === name)) {
        void this.live.get(name)!.client.close();
        this.live.delete(name);
      }
    await Promise.all(nodes.map((n) => this.poll(n)));
  }

  private async poll(node: TrafficNode): Promise<void> {
    const l = this.liveOf(node);
    try {
      let status = await l.client.call<NodeStatus>('GET', '/api/peer/cluster/status');
      if (status.membership && status.membership.accepting !== node.accepting)
        status = await l.client.call<NodeStatus>('POST', '/api/peer/cluster/accepting', {
          accepting: node.accepting,
        });
      l.status = status;
      l.lastContact = Date.now();
      l.lastError = null;
      l.assigned = 0;
      if (
        !l.pulling &&
        HISTORY_TABLES.some((t) => (status.history[t] ?? 0) > this.host.nodes.cursor(node.name, t))
      )
        void this.pullHistory(node).catch((e: unknown) =>
          this.host.log('cluster history pull failed', { node: node.name, err: String(e) }),
        );
    } catch (e) {
      l.lastError = (e as Error).message;
      return;
    }
    // A revocation (a user, a Jump Client installation) reaches the node within a poll.
    if (l.pushedVersion !== this.host.configVersion())
      await this.pushConfig(node).catch((e: unknown) =>
        this.host.log('cluster configuration push failed', { node: node.name, err: String(e) }),
      );
  }

  /** Bring the node's session records (with recordings) and log entries to this appliance. */
  async pullHistory(node: TrafficNode): Promise<number> {
    const l = this.liveOf(node);
    if (l.pulling) return 0;
    l.pulling = true;
    let pulled = 0;
    try {
      for (const table of HISTORY_TABLES) {
        for (;;) {
          const after = this.host.nodes.cursor(node.name, table);
          const { rows } = await l.client.call<{ rows: Record<string, unknown>[] }>(
            'GET',
            `/api/peer/cluster/history?table=${table}&after=${after}&limit=500`,
          );
          if (!rows.length) break;
          const held: string[] = [];
          try {
            // Recordings are durable here before the records that name them commit.
            for (const row of rows) {
              const sha = row.recording_sha256;
              if (typeof sha === 'string' && !(await this.host.blobs.has(sha))) {
                const blob = await this.host.blobs.put(
                  await l.client.stream(`/api/peer/cluster/blobs/${sha}`),
                  {
                    expectedSha256: sha,
                  },
                );
                held.push(blob.sha256);
              }
            }
            this.host.db.transaction(() => {
              mergeRecords(this.host.db, table, rows);
              this.host.nodes.setCursor(node.name, table, Number(rows.at(-1)!._rowid));
            })();
          } finally {
            for (const sha of held) this.host.blobs.release(sha);
          }
          pulled += rows.length;
        }
      }
    } finally {
      l.pulling = false;
    }
    return pulled;
  }

  view(): NodeView[] {
    return this.host.nodes.list().map((n) => {
      const l = this.live.get(n.name);
      return {
        ...n,
        status: l?.status ?? null,
        lastContact: l?.lastContact ?? null,
        lastError: l?.lastError ?? null,
        eligible: this.eligible(n, l),
      };
    });
  }

  private eligible(n: TrafficNode, l: Live | undefined): boolean {
    const s = l?.status;
    return (
      !!s &&
      !!l.lastContact &&
      Date.now() - l.lastContact < STALE_MS &&
      n.accepting &&
      s.membership?.accepting === true &&
      s.ready &&
      !s.update &&
      s.productVersion === this.host.version
    );
  }

  private relayOf(n: TrafficNode): Relay {
    return { node: n.name, host: n.host, port: n.port, fingerprint: n.fingerprint };
  }

  // --- ClientRouting ------------------------------------------------------------------------

  relayForNewClient(region: string | undefined): Relay | null {
    const nodes = this.host.nodes.list().filter((n) => this.eligible(n, this.live.get(n.name)));
    const inRegion = nodes.filter((n) => n.region === region);
    const pool = inRegion.length ? inRegion : nodes;
    if (!pool.length) {
      // No traffic node can take it: the primary node relays it itself rather than refuse.
      if (this.host.nodes.list().length)
        this.host.log('no traffic node accepts new clients; relaying here');
      return null;
    }
    const load = (n: TrafficNode) => {
      const l = this.live.get(n.name)!;
      return (l.status?.connectedClients ?? 0) + l.assigned;
    };
    const best = pool.reduce((a, b) => (load(b) < load(a) ? b : a));
    this.live.get(best.name)!.assigned++;
    return this.relayOf(best);
  }

  relayForJumpClient(name: string): Relay | null {
    let found: { node: TrafficNode; at: number } | undefined;
    for (const n of this.host.nodes.list()) {
      const j = this.live.get(n.name)?.status?.jumpClients.find((c) => c.name === name);
      if (j && (!found || j.connectedAt > found.at)) found = { node: n, at: j.connectedAt };
    }
    const here = this.host.gateway.jumpClient(name);
    if (here && (!found || here.connectedAt > found.at)) return null;
    if (!found) throw jumpClientNotConnected(name);
    return this.relayOf(found.node);
  }

  jumpClients(): SiteJumpClient[] {
    const out = this.host.gateway
      .list()
      .filter((c) => c.kind !== 'representative-console')
      .map((c) => siteJumpClient(c, this.host.name));
    for (const n of this.host.nodes.list())
      for (const j of this.live.get(n.name)?.status?.jumpClients ?? [])
        // A traffic node of the previous release reports no kind: all its clients are Jump Clients.
        out.push({ ...j, kind: j.kind ?? 'jump-client', node: n.name });
    return out;
  }

  // --- administration ---------------------------------------------------------------------

  /** Add a traffic node: pin its certificate, prove both hold the same key, and have it join. */
  async addNode(
    actor: Actor,
    input: { host: string; port: number; region: string; key: string; accepting: boolean },
  ): Promise<NodeView> {
    if (input.key !== this.host.key())
      throw new GatehouseError(
        'CLUSTER_KEY_MISMATCH',
        400,
        "key: is not this appliance's Inter-Appliance key. Set the same key on both appliances (Management > Security), then add the node with it.",
        {
          fields: [
            { field: 'key', message: "does not match this appliance's Inter-Appliance key" },
          ],
        },
      );
    const fields = (message: string) => [
      { field: 'host', message },
      { field: 'port', message },
    ];
    let fingerprint: string;
    try {
      fingerprint = await fetchPeerFingerprint({ host: input.host, port: input.port });
    } catch (e) {
      const err = e as GatehouseError;
      throw new GatehouseError('CLUSTER_NODE_UNREACHABLE', 502, err.message, {
        fields: fields('cannot be reached'),
      });
    }
    if (fingerprint === this.host.host().fingerprint)
      throw new GatehouseError(
        'CLUSTER_NODE_SELF',
        400,
        `${peerLabel(input)} is this appliance itself. Enter a traffic node's address.`,
        {
          fields: fields('is this appliance itself'),
        },
      );
    const client = new PeerClient(
      { host: input.host, port: input.port },
      fingerprint,
      this.host.key,
      this.host.name,
    );
    try {
      const hello = await client.call<{ name: string }>('POST', '/api/peer/hello', {});
      if (this.host.nodes.find(hello.name))
        throw new GatehouseError(
          'CLUSTER_NODE_EXISTS',
          409,
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
      await this.pushConfig(this.host.nodes.get(hello.name)).catch(() => undefined);
      await this.poll(this.host.nodes.get(hello.name));
      return this.view().find((n) => n.name === hello.name)!;
    } finally {
      await client.close();
    }
  }

  async removeNode(actor: Actor, name: string): Promise<void> {
    const node = this.host.nodes.get(name);
    const l = this.liveOf(node);
    await this.pullHistory(node).catch(() => undefined);
    await l.client.call('POST', '/api/peer/cluster/leave', {}).catch(() => undefined);
    this.host.nodes.remove(actor, name);
    void l.client.close();
    this.live.delete(name);
  }

  async setAccepting(actor: Actor, name: string, accepting: boolean): Promise<NodeView> {
    const node = this.host.nodes.setAccepting(actor, name, accepting);
    await this.poll(node);
    return this.view().find((n) => n.name === name)!;
  }

  /** Installing on the primary node: no traffic node takes new clients until re-enabled (S23). */
  stopAllAccepting(actor: Actor): void {
    for (const n of this.host.nodes.list())
      if (n.accepting) this.host.nodes.setAccepting(actor, n.name, false);
    void this.pollAll();
  }

  /** The configuration tables the node takes (a node of the previous release: users, settings). */
  private async pushConfig(node: TrafficNode): Promise<void> {
    const l = this.liveOf(node);
    const version = this.host.configVersion();
    const takes = l.status?.configTables ?? ['users', 'site_settings'];
    const config = Object.fromEntries(
      CONFIG_TABLES.filter((t) => takes.includes(t)).map((t) => [
        t,
        this.host.db.prepare(`SELECT * FROM ${t}`).all(),
      ]),
    );
    await l.client.call('POST', '/api/peer/cluster/config', config);
    l.pushedVersion = version;
  }

  /** Cluster Sync Now: configuration out to every node, history back from each (S26). */
  async syncNow(actor: Actor) {
    const results = await Promise.all(
      this.host.nodes.list().map(async (n) => {
        try {
          await this.pushConfig(n);
          const pulled = await this.pullHistory(n);
          return { node: n.name, ok: true, pulled };
        } catch (e) {
          return { node: n.name, ok: false, error: (e as Error).message };
        }
      }),
    );
    this.host.events.record(
      actor,
      'cluster.synced',
      '',
      { results },
      results.every((r) => r.ok) ? 'ok' : 'failed',
    );
    return { results };
  }

  /** Distribute to Cluster: every node fetches the staged package, without installing (S22, S30). */
  async distribute(actor: Actor, id: string) {
    const primary = this.host.host();
    const results = await Promise.all(
      this.host.nodes.list().map(async (n) => {
        try {
          const staged = await this.liveOf(n).client.call<{ id: string }>(
            'POST',
            '/api/peer/cluster/fetch-package',
            { id, primary },
          );
          return { node: n.name, ok: true, staged: staged.id };
        } catch (e) {
          return { node: n.name, ok: false, error: (e as Error).message };
        }
      }),
    );
    this.host.events.record(
      actor,
      'update.distributed-to-cluster',
      id,
      { results },
      results.every((r) => r.ok) ? 'ok' : 'failed',
    );
    return { results };
  }

  /** Wait until a node's connected clients reach zero, or the deadline (draining, S22). */
  async waitDrained(name: string, timeoutMs: number) {
    const node = this.host.nodes.get(name);
    const count = () => this.live.get(name)?.status?.connectedClients ?? Infinity;
    try {
      await until(
        async () => {
          await this.poll(node);
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
