import { z } from 'zod';

import { operationsOf, type Operation } from '../../shared/http/operations.js';
import { RegionName } from '../nodes-store.js';
import type { ClusterSite } from './site.js';
import { clusterErrors } from '../error-codes.js';

/** An operation of the cluster domain: its handler sees the appliance as `ClusterSite`. */
export type ClusterOperation = Operation<unknown, unknown, unknown, ClusterSite>;
const op = operationsOf<ClusterSite>({ area: 'login', tag: 'cluster' });
const updatesOp = operationsOf<ClusterSite>({ area: 'appliance', tag: 'updates' });

const NodeParams = z.object({ name: z.string().min(1).max(64) }).strict();

function requirePrimaryNode(appliance: ClusterSite, what: string): void {
  if (appliance.role === 'backup')
    throw clusterErrors.CLUSTER_ON_BACKUP(
      `${what} is done on the primary; this appliance is its failover backup.`,
    );
  if (appliance.membership.get())
    throw clusterErrors.CLUSTER_ON_TRAFFIC_NODE(
      `${appliance.identity.name} is a traffic node; ${what.toLowerCase()} is done on the primary node (${appliance.membership.get()!.primary}).`,
    );
}

export function clusterView(appliance: ClusterSite) {
  const membership = appliance.membership.get();
  return {
    appliance: appliance.identity.name,
    role: appliance.standing.cluster,
    productVersion: appliance.productVersion,
    membership: membership ?? null,
    nodes: appliance.cluster.view(),
  };
}

/** /login > Management > Cluster: traffic nodes, Accepting New Client Connections, Sync Now. */
export const clusterOperations: ClusterOperation[] = [
  op('getCluster', 'GET /api/login/cluster', {
    summary:
      "The cluster: this appliance's role and each traffic node's version, state, clients and last contact",
    response: { status: 200, description: 'The cluster' },
    handler: ({ appliance }) => clusterView(appliance),
  }),
  op('addClusterNode', 'POST /api/login/cluster/nodes', {
    summary:
      'Add a traffic node (its address, TLS port, region and the shared Inter-Appliance key)',
    body: z
      .object({
        host: z.string({ message: 'is required' }).min(1, 'is required').max(253),
        port: z.coerce
          .number({ message: 'is required' })
          .int()
          .min(1)
          .max(65535, 'must be at most 65535'),
        region: RegionName,
        key: z.string({ message: 'is required' }).min(1, 'is required'),
        accepting: z.boolean().default(true),
      })
      .strict(),
    response: { status: 201, description: 'Added' },
    handler: async ({ appliance, actor, body }) => {
      requirePrimaryNode(appliance, 'Adding traffic nodes');
      return appliance.cluster.addNode(actor, body);
    },
  }),
  op('setClusterNode', 'PATCH /api/login/cluster/nodes/:name', {
    summary:
      'Set Accepting New Client Connections of a traffic node (false drains it: sessions go on, idle clients move)',
    params: NodeParams,
    body: z.object({ accepting: z.boolean({ message: 'must be true or false' }) }).strict(),
    response: { status: 200, description: 'The node' },
    handler: ({ appliance, actor, params, body }) => {
      requirePrimaryNode(appliance, 'Changing traffic nodes');
      return appliance.cluster.setAccepting(actor, params.name, body.accepting);
    },
  }),
  op('waitClusterNodeDrained', 'POST /api/login/cluster/nodes/:name/wait-drained', {
    summary:
      "Wait until a node's connected clients reach zero, or the deadline; answers drained true or false",
    params: NodeParams,
    body: z.object({ timeoutSeconds: z.number().int().min(0).max(3600).default(60) }).strict(),
    response: { status: 200, description: 'Drained or not, with the clients left' },
    handler: ({ appliance, params, body }) =>
      appliance.cluster.waitDrained(params.name, body.timeoutSeconds * 1000),
  }),
  op('removeClusterNode', 'DELETE /api/login/cluster/nodes/:name', {
    summary:
      'Remove a traffic node (its history is pulled first; it goes on as a standalone appliance)',
    params: NodeParams,
    response: { status: 204, description: 'Removed' },
    handler: async ({ appliance, actor, params }) => {
      requirePrimaryNode(appliance, 'Removing traffic nodes');
      await appliance.cluster.removeNode(actor, params.name);
    },
  }),
  op('clusterSyncNow', 'POST /api/login/cluster/sync', {
    summary:
      'Cluster Sync Now: push configuration to every traffic node and pull their records back',
    response: { status: 200, description: 'Per-node results' },
    handler: ({ appliance, actor }) => {
      requirePrimaryNode(appliance, 'Cluster Sync Now');
      return appliance.cluster.syncNow(actor);
    },
  }),
  updatesOp('distributeToCluster', 'POST /api/appliance/updates/:id/distribute', {
    summary:
      'Distribute to Cluster: every traffic node fetches this staged package, without installing it',
    params: z
      .object({ id: z.string().regex(/^[0-9a-f]{64}$/, 'must be a staged package id') })
      .strict(),
    response: { status: 200, description: 'Per-node results' },
    handler: ({ appliance, actor, params }) => {
      requirePrimaryNode(appliance, 'Distribute to Cluster');
      if (!appliance.cluster.isPrimaryNode)
        throw clusterErrors.CLUSTER_NONE(
          "Distribute to Cluster exists only on a cluster's primary node, and this appliance has no traffic nodes (S30).",
        );
      appliance.updates.get(params.id);
      return appliance.cluster.distribute(actor, params.id);
    },
  }),
];
