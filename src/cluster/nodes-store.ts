import { z } from 'zod';

import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import {
  deleteApplianceSetting,
  readApplianceSetting,
  writeApplianceSetting,
} from '../store/appliance-settings.js';
import { clusterErrors } from './error-codes.js';

/** A traffic node as the primary node knows it: where it is, its region, whether it accepts. */
export interface TrafficNode {
  name: string;
  host: string;
  port: number;
  fingerprint: string;
  region: string;
  /** Accepting New Client Connections, as the primary node wants it. */
  accepting: boolean;
  addedAt: number;
  updatedAt: number;
}

interface Row {
  name: string;
  host: string;
  port: number;
  fingerprint: string;
  region: string;
  accepting: number;
  added_at: number;
  updated_at: number;
}

const toNode = (r: Row): TrafficNode => ({
  name: r.name,
  host: r.host,
  port: r.port,
  fingerprint: r.fingerprint,
  region: r.region,
  accepting: r.accepting === 1,
  addedAt: r.added_at,
  updatedAt: r.updated_at,
});

export const RegionName = z
  .string({ message: 'is required' })
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    "must be 1-64 letters, digits, '.', '_' or '-', e.g. eu-west",
  );

/**
 * The cluster's traffic nodes (a site table: a failover backup of the primary node receives
 * it, S17), and how far the primary node has pulled each node's history (its own table).
 */
export class ClusterNodes {
  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  list(): TrafficNode[] {
    return (
      this.db.prepare('SELECT * FROM cluster_nodes ORDER BY region, name').all() as Row[]
    ).map(toNode);
  }

  find(name: string): TrafficNode | undefined {
    const row = this.db.prepare('SELECT * FROM cluster_nodes WHERE name = ?').get(name) as
      Row | undefined;
    return row && toNode(row);
  }

  get(name: string): TrafficNode {
    const node = this.find(name);
    if (!node)
      throw clusterErrors.CLUSTER_NODE_NOT_FOUND(
        `No traffic node "${name}" in this cluster. The nodes are listed on /login > Management > Cluster.`,
      );
    return node;
  }

  add(actor: Actor, node: Omit<TrafficNode, 'addedAt' | 'updatedAt'>): TrafficNode {
    const now = Date.now();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO cluster_nodes (name, host, port, fingerprint, region, accepting, added_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          node.name,
          node.host,
          node.port,
          node.fingerprint,
          node.region,
          node.accepting ? 1 : 0,
          now,
          now,
        );
      this.db.prepare('DELETE FROM cluster_cursors WHERE node = ?').run(node.name);
      this.events.record(actor, 'cluster.node-added', node.name, {
        address: `${node.host}:${node.port}`,
        region: node.region,
        fingerprint: node.fingerprint,
      });
    })();
    return this.get(node.name);
  }

  setAccepting(actor: Actor, name: string, accepting: boolean): TrafficNode {
    const node = this.get(name);
    if (node.accepting === accepting) return node;
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE cluster_nodes SET accepting = ?, updated_at = ? WHERE name = ?')
        .run(accepting ? 1 : 0, Date.now(), name);
      this.events.record(
        actor,
        accepting ? 'cluster.node-accepting' : 'cluster.node-not-accepting',
        name,
      );
    })();
    return this.get(name);
  }

  remove(actor: Actor, name: string): void {
    this.get(name);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM cluster_nodes WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM cluster_cursors WHERE node = ?').run(name);
      this.events.record(actor, 'cluster.node-removed', name);
    })();
  }

  cursor(node: string, table: string): number {
    const row = this.db
      .prepare('SELECT after FROM cluster_cursors WHERE node = ? AND tbl = ?')
      .get(node, table) as { after: number } | undefined;
    return row?.after ?? 0;
  }

  setCursor(node: string, table: string, after: number): void {
    this.db
      .prepare(
        `INSERT INTO cluster_cursors (node, tbl, after) VALUES (?, ?, ?)
         ON CONFLICT (node, tbl) DO UPDATE SET after = excluded.after`,
      )
      .run(node, table, after);
  }
}

/** This appliance's membership when it is a traffic node (appliance_settings). */
export const Membership = z.object({
  name: z.string(),
  region: z.string(),
  /** The primary node that manages it (the last one that spoke to it). */
  primary: z.string(),
  accepting: z.boolean(),
  joinedAt: z.number(),
});
export type Membership = z.infer<typeof Membership>;

const MEMBERSHIP_KEY = 'cluster.membership';

export class NodeMembership {
  private cached: Membership | null | undefined;

  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  get(): Membership | undefined {
    if (this.cached === undefined) {
      const stored = readApplianceSetting<unknown>(this.db, MEMBERSHIP_KEY);
      this.cached = stored === undefined ? null : Membership.parse(stored);
    }
    return this.cached ?? undefined;
  }

  set(actor: Actor, value: Membership | undefined, action: string): void {
    this.db.transaction(() => {
      if (value) writeApplianceSetting(this.db, MEMBERSHIP_KEY, value);
      else deleteApplianceSetting(this.db, MEMBERSHIP_KEY);
      this.events.record(actor, action, value?.primary ?? '', value ? { ...value } : {});
    })();
    this.cached = value ?? null;
  }
}
