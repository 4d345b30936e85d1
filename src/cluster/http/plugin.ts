import type { FastifyPluginAsync } from 'fastify';
import { registerPeerRoutes, type PeerHost } from '../../failover/peer-server.js';
import { registerOperations, type OperationHost } from '../../shared/http/operations.js';
import { pages, type PageGuard, type PageHost } from '../../shared/web/kit.js';
import {
  CLUSTER_NODE_ROUTES,
  CLUSTER_PRIMARY_ROUTES,
  type ClusterPeerHost,
} from '../node-routes.js';
import { clusterOperations } from './api.js';
import { registerClusterPages } from './pages.js';
import type { ClusterSite } from './site.js';

export interface ClusterHttpOptions {
  /** The page host of /login, seeing the appliance as `ClusterSite`. */
  pages: PageHost<ClusterSite>;
  /** How the admin API checks sessions (the appliance's accounts of both areas). */
  authenticate: OperationHost<ClusterSite>['authenticate'];
  /** When Management > Cluster gives way (a failover backup hides it: the primary manages it). */
  pageGuard?: PageGuard;
  /** The peer side: what a node's and a primary node's endpoints see, and the key that proves calls. */
  peer: PeerHost<ClusterPeerHost>;
}

/**
 * The cluster's whole HTTP surface: the /api/login/cluster operations and Distribute to Cluster,
 * /login > Management > Cluster, and the inter-appliance endpoints between a primary node and
 * its traffic nodes.
 */
export const clusterHttp: FastifyPluginAsync<ClusterHttpOptions> = async (app, opts) => {
  registerOperations(
    app,
    { context: opts.pages.context, authenticate: opts.authenticate },
    clusterOperations,
  );
  const p = pages(app, opts.pages, 'login', opts.pageGuard);
  p.link('/login/management/cluster', 'Management > Cluster', 80);
  registerClusterPages(p);
  await registerPeerRoutes(app, opts.peer, [...CLUSTER_NODE_ROUTES, ...CLUSTER_PRIMARY_ROUTES]);
};
