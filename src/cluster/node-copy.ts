import { mergeRecords } from '../site/site-data.js';
import type { ClusterHost } from './cluster-host.js';
import type { NodeLinks } from './node-links.js';
import { CONFIG_TABLES, HISTORY_TABLES } from './node-routes.js';
import type { TrafficNode } from './nodes-store.js';

/**
 * The site data that travels between the primary node and a traffic node: configuration out
 * (users, settings, Jump Client installations; Cluster Sync Now and after every change) and
 * history back (session records with their recordings, log entries), written through the
 * site-data copier (src/site/site-data.ts).
 */
export class NodeCopy {
  constructor(
    private readonly host: Pick<
      ClusterHost,
      'db' | 'blobs' | 'nodes' | 'configVersion' | 'siteCa' | 'log'
    >,
    private readonly links: NodeLinks,
  ) {}

  /** Whether the node has history this appliance has not pulled yet. */
  hasNewHistory(node: TrafficNode): boolean {
    const status = this.links.get(node.name)?.status;
    return HISTORY_TABLES.some(
      (t) => (status?.history[t] ?? 0) > this.host.nodes.cursor(node.name, t),
    );
  }

  /** Whether the node took the configuration as it is now. */
  configCurrent(node: TrafficNode): boolean {
    return this.links.get(node.name)?.pushedVersion === this.host.configVersion();
  }

  /** The configuration tables the node takes (a node of the previous release: users, settings). */
  async pushConfig(node: TrafficNode): Promise<void> {
    const l = this.links.of(node);
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

  /** Whether the node holds another site certificate authority (one of the previous release: none). */
  siteCaDiffers(node: TrafficNode): boolean {
    const held = this.links.get(node.name)?.status?.siteCa;
    return held !== undefined && held !== this.host.siteCa.fingerprint;
  }

  /**
   * The site's identity (S20) to a node that holds another, within a poll of its joining: the
   * key travels only in this key-proven, pinned peer channel.
   */
  async pushSiteCa(node: TrafficNode): Promise<void> {
    const l = this.links.of(node);
    try {
      const taken = await l.client.call<{ siteCa: string }>(
        'POST',
        '/api/peer/cluster/site-ca',
        this.host.siteCa.bundle(),
      );
      if (l.status) l.status.siteCa = taken.siteCa;
    } catch (e) {
      this.host.log('cluster site CA push failed', { node: node.name, err: String(e) });
    }
  }

  /** Bring the node's session records (with recordings) and log entries to this appliance. */
  async pullHistory(node: TrafficNode): Promise<number> {
    const l = this.links.of(node);
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
                  { expectedSha256: sha },
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
}
