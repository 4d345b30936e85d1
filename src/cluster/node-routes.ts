import { createReadStream } from 'node:fs';
import { z } from 'zod';

import type { PeerRoute } from '../failover/peer-server.js';
import { parseInput } from '../shared/http/operations.js';
import { PeerClient } from '../failover/peer-client.js';
import type { FailoverRole } from '../failover/relationship.js';
import type { ClientGateway } from '../sessions/gateway.js';
import type { EventLog } from '../site/events.js';
import type { InterApplianceKey } from '../site/security.js';
import type { SiteIdentity } from '../site/site-identity.js';
import { replaceTable } from '../site/site-data.js';
import type { BlobStore } from '../store/blobs.js';
import type { Db } from '../store/db.js';
import type { UpdateInstaller } from '../updates/installer.js';
import { RegionName, type ClusterNodes, type NodeMembership } from './nodes-store.js';
import { clusterErrors } from './error-codes.js';
import { sharedErrors } from '../shared/error-codes.js';

/** What the cluster's inter-appliance endpoints need of the appliance that serves them. */
export interface ClusterPeerHost {
  readonly identity: { readonly name: string };
  readonly productVersion: string;
  readonly baseVersion: string;
  readonly ready: boolean;
  readonly writeGate: 'installing' | 'verifying' | undefined;
  readonly role: FailoverRole;
  readonly db: Db;
  readonly events: EventLog;
  readonly blobs: Pick<BlobStore, 'read'>;
  readonly membership: NodeMembership;
  readonly clusterNodes: Pick<ClusterNodes, 'list'>;
  readonly clients: Pick<
    ClientGateway,
    'list' | 'connectedCount' | 'liveSessions' | 'drain' | 'undrain' | 'moveAll'
  >;
  readonly interApplianceKey: Pick<InterApplianceKey, 'get'>;
  readonly siteIdentity: Pick<SiteIdentity, 'fingerprint' | 'adopt'>;
  readonly updates: Pick<
    UpdateInstaller,
    'staged' | 'stagedIntact' | 'stageUpload' | 'get' | 'stagedFile'
  >;
}

/** Tables whose history flows from traffic nodes back to the primary node. */
export const HISTORY_TABLES = ['session_records', 'events'] as const;
/** Configuration the primary node pushes to its traffic nodes (Cluster Sync Now). */
export const CONFIG_TABLES = ['users', 'site_settings', 'jump_client_installations'] as const;

const Join = z.object({ name: z.string(), region: RegionName, accepting: z.boolean() }).strict();
/** An appliance clients may be sent to: an accepting node (or the primary node itself). */
const SendTo = z
  .object({
    node: z.string().max(64),
    host: z.string().max(255),
    port: z.number().int().min(1).max(65535),
    fingerprint: z.string().max(200),
  })
  .strict();
/** `sendTo`: where a node that stops accepting sends its clients (a primary node may omit it). */
const Accepting = z.object({ accepting: z.boolean(), sendTo: SendTo.optional() }).strict();
const Config = z
  .object({
    users: z.array(z.record(z.string(), z.unknown())),
    site_settings: z.array(z.record(z.string(), z.unknown())),
    jump_client_installations: z.array(z.record(z.string(), z.unknown())).optional(),
  })
  .strict();
const History = z
  .object({
    table: z.enum(HISTORY_TABLES),
    after: z.coerce.number().int().min(0),
    limit: z.coerce.number().int().min(1).max(2000).default(500),
  })
  .strict();
const FetchPackage = z
  .object({
    id: z.string().regex(/^[0-9a-f]{64}$/),
    primary: z.object({ host: z.string(), port: z.number().int(), fingerprint: z.string() }),
  })
  .strict();

function member(appliance: ClusterPeerHost) {
  const m = appliance.membership.get();
  if (!m)
    throw clusterErrors.CLUSTER_NOT_A_NODE(
      `${appliance.identity.name} is not a traffic node of a cluster. Add it on the primary node's /login > Management > Cluster.`,
    );
  return m;
}

/** What a traffic node reports to its primary node (polled every second). */
export function nodeStatus(appliance: ClusterPeerHost) {
  const clients = appliance.clients.list();
  const maxRowid = (t: string) =>
    (appliance.db.prepare(`SELECT COALESCE(MAX(rowid), 0) AS m FROM ${t}`).get() as { m: number })
      .m;
  return {
    name: appliance.identity.name,
    productVersion: appliance.productVersion,
    baseVersion: appliance.baseVersion,
    ready: appliance.ready,
    update: appliance.writeGate ?? null,
    membership: appliance.membership.get() ?? null,
    connectedClients: appliance.clients.connectedCount(),
    liveSessions: appliance.clients.liveSessions().length,
    jumpClients: clients
      .filter((c) => c.kind !== 'representative-console')
      .map((c) => ({
        // A primary node of the previous release reads every entry as a Jump Client.
        kind: c.kind,
        name: c.name,
        group: c.group,
        ...(c.representative ? { representative: c.representative } : {}),
        version: c.version,
        targets: c.targets,
        connectedAt: c.connectedAt,
        sessions: c.sessions.length,
      })),
    history: Object.fromEntries(HISTORY_TABLES.map((t) => [t, maxRowid(t)])),
    /** The configuration tables this node takes from its primary node. */
    configTables: [...CONFIG_TABLES] as string[],
    /** The site certificate authority it holds: the primary node pushes its own when they differ. */
    siteCa: appliance.siteIdentity.fingerprint,
  };
}
export type NodeStatus = ReturnType<typeof nodeStatus>;

/** The inter-appliance endpoints of a traffic node, called by its primary node. */
export const CLUSTER_NODE_ROUTES: PeerRoute<ClusterPeerHost>[] = [
  {
    method: 'POST',
    path: '/api/peer/cluster/join',
    handler: ({ appliance, from, body }) => {
      const join = parseInput(Join, body, 'body');
      if (appliance.role !== 'standalone')
        throw clusterErrors.CLUSTER_NODE_IN_FAILOVER(
          `${appliance.identity.name} is in a failover relationship; a traffic node cannot be. Break it there first.`,
        );
      if (appliance.clusterNodes.list().length)
        throw clusterErrors.CLUSTER_NODE_IS_PRIMARY(
          `${appliance.identity.name} is itself the primary node of a cluster. Remove its traffic nodes first.`,
        );
      const current = appliance.membership.get();
      if (current && current.primary !== from)
        throw clusterErrors.CLUSTER_NODE_ALREADY_MEMBER(
          `${appliance.identity.name} is already a traffic node of ${current.primary}. Remove it from that cluster first.`,
        );
      appliance.membership.set(
        { area: 'system', name: from },
        {
          name: join.name,
          region: join.region,
          primary: from,
          accepting: join.accepting,
          joinedAt: Date.now(),
        },
        'cluster.joined',
      );
      return nodeStatus(appliance);
    },
  },
  {
    method: 'POST',
    path: '/api/peer/cluster/site-ca',
    // The site's identity is the primary node's (S20): sent only inside this key-proven channel.
    handler: async ({ appliance, from, body }) => {
      member(appliance);
      await appliance.siteIdentity.adopt({ area: 'system', name: from }, body, from);
      return { siteCa: appliance.siteIdentity.fingerprint };
    },
  },
  {
    method: 'GET',
    path: '/api/peer/cluster/status',
    handler: ({ appliance, from }) => {
      const m = member(appliance);
      // A backup primary node that took over manages the node from now on (S17).
      if (m.primary !== from)
        appliance.membership.set(
          { area: 'system', name: from },
          { ...m, primary: from },
          'cluster.primary-changed',
        );
      return nodeStatus(appliance);
    },
  },
  {
    method: 'POST',
    path: '/api/peer/cluster/accepting',
    handler: ({ appliance, from, body }) => {
      const { accepting, sendTo } = parseInput(Accepting, body, 'body');
      const m = member(appliance);
      if (m.accepting !== accepting)
        appliance.membership.set(
          { area: 'system', name: from },
          { ...m, accepting },
          accepting ? 'cluster.accepting' : 'cluster.not-accepting',
        );
      if (accepting) appliance.clients.undrain();
      else appliance.clients.drain(sendTo);
      return nodeStatus(appliance);
    },
  },
  {
    method: 'POST',
    path: '/api/peer/cluster/config',
    handler: ({ appliance, from, body }) => {
      member(appliance);
      const config = parseInput(Config, body, 'body');
      const db = appliance.db;
      db.transaction(() => {
        for (const table of CONFIG_TABLES) {
          const rows = config[table];
          if (rows) replaceTable(db, table, rows);
        }
        appliance.events.record({ area: 'system', name: from }, 'cluster.config-applied', from, {
          users: config.users.length,
        });
      })();
      return { applied: true };
    },
  },
  {
    method: 'GET',
    path: '/api/peer/cluster/history',
    handler: ({ appliance, req }) => {
      member(appliance);
      const q = parseInput(History, req.query, 'query');
      const rows = appliance.db
        .prepare(`SELECT rowid AS _rowid, * FROM ${q.table} WHERE rowid > ? ORDER BY rowid LIMIT ?`)
        .all(q.after, q.limit);
      return { rows };
    },
  },
  {
    method: 'GET',
    path: '/api/peer/cluster/blobs/:sha256',
    handler: ({ appliance, req }) => {
      member(appliance);
      const sha = (req.params as { sha256: string }).sha256;
      if (!/^[0-9a-f]{64}$/.test(sha))
        throw sharedErrors.VALIDATION_FAILED('sha256: must be 64 hex digits');
      return appliance.blobs.read(sha);
    },
  },
  {
    method: 'POST',
    path: '/api/peer/cluster/leave',
    handler: ({ appliance, from }) => {
      if (appliance.membership.get())
        appliance.membership.set({ area: 'system', name: from }, undefined, 'cluster.left');
      appliance.clients.undrain();
      // The site no longer leads here: its clients, and their resumable sessions, go on where it does.
      appliance.clients.moveAll('this node left the cluster');
      return { left: true };
    },
  },
  {
    method: 'POST',
    path: '/api/peer/cluster/fetch-package',
    handler: async ({ appliance, from, body }) => {
      member(appliance);
      const { id, primary } = parseInput(FetchPackage, body, 'body');
      // A staged copy whose bytes differ (damaged on this node's disk) is replaced.
      if (await appliance.updates.stagedIntact(id)) return appliance.updates.get(id);
      const client = new PeerClient(
        { host: primary.host, port: primary.port },
        primary.fingerprint,
        () => appliance.interApplianceKey.get(),
        appliance.identity.name,
      );
      try {
        const stream = await client.stream(`/api/peer/cluster/packages/${id}`);
        const staged = await appliance.updates.stageUpload(stream, 'cluster');
        appliance.events.record(
          { area: 'system', name: from },
          'update.distributed',
          `${staged.kind} ${staged.version}`,
          {
            from,
            sha256: staged.sha256,
          },
        );
        return staged;
      } finally {
        await client.close();
      }
    },
  },
];

/** Served by the primary node: a staged package, fetched by its traffic nodes (Distribute to Cluster). */
export const CLUSTER_PRIMARY_ROUTES: PeerRoute<ClusterPeerHost>[] = [
  {
    method: 'GET',
    path: '/api/peer/cluster/packages/:id',
    handler: ({ appliance, req }) => {
      const id = (req.params as { id: string }).id;
      appliance.updates.get(id);
      return createReadStream(appliance.updates.stagedFile(id));
    },
  },
];
