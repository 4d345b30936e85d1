import { registerPeerRoutes, type PeerHost } from '../../failover/peer-server.js';
import { adminSurface, domainHttp, type AdminOptions } from '../../shared/web/domain-http.js';
import {
  CLUSTER_NODE_ROUTES,
  CLUSTER_PRIMARY_ROUTES,
  type ClusterPeerHost,
} from '../node-routes.js';
import { clusterOperations } from './api.js';
import { registerClusterPages } from './pages.js';
import type { ClusterSite } from './site.js';

/** The page host of /login seeing the appliance as `ClusterSite`; a backup hides the page. */
export interface ClusterHttpOptions extends AdminOptions<ClusterSite> {
  /** The peer side: what a node's and a primary node's endpoints see, and the key that proves calls. */
  peer: PeerHost<ClusterPeerHost>;
}

/**
 * The cluster's whole HTTP surface: the /api/login/cluster operations and Distribute to Cluster,
 * /login > Management > Cluster, and the inter-appliance endpoints between a primary node and
 * its traffic nodes.
 */
export const clusterHttp = domainHttp<ClusterHttpOptions>(clusterOperations, async (app, opts) => {
  const p = adminSurface(app, opts, 'login', clusterOperations);
  p.link('/login/management/cluster', 'Management > Cluster', 80);
  registerClusterPages(p);
  await registerPeerRoutes(app, opts.peer, [...CLUSTER_NODE_ROUTES, ...CLUSTER_PRIMARY_ROUTES]);
});
