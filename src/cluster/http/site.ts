import type { FailoverRole } from '../../failover/relationship.js';
import type { ClientGateway } from '../../sessions/gateway.js';
import type { UpdateInstaller } from '../../updates/installer.js';
import type { Standing } from '../../updates/update-settings.js';
import type { ClusterService } from '../cluster-service.js';
import type { NodeMembership } from '../nodes-store.js';

/**
 * What the cluster's page and admin API need of the appliance they run in: the cluster itself,
 * this appliance's place (failover role, membership), its version (a node on another gets no
 * clients), its connected clients, and its staged packages (Distribute to Cluster).
 */
export interface ClusterSite {
  readonly identity: { readonly name: string };
  readonly productVersion: string;
  readonly role: FailoverRole;
  readonly standing: Standing;
  readonly cluster: Pick<
    ClusterService,
    | 'view'
    | 'addNode'
    | 'setAccepting'
    | 'waitDrained'
    | 'removeNode'
    | 'syncNow'
    | 'distribute'
    | 'isPrimaryNode'
  >;
  readonly membership: Pick<NodeMembership, 'get'>;
  readonly clients: Pick<ClientGateway, 'list'>;
  readonly updates: Pick<UpdateInstaller, 'get'>;
}
