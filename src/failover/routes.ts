import { SCHEMA_VERSION } from '../store/migrations.js';
import type { PeerRoute } from './peer-server.js';
import { SYNC_ROUTES, type SyncPeerHost } from './sync/routes.js';
import { RELATIONSHIP_PEER_ROUTES, type RelationshipPeerHost } from './relationship-routes.js';
import type { FailoverRole } from './relationship.js';

/** Who this appliance is, as its first answer to a peer tells. */
export interface HelloHost {
  readonly identity: { readonly name: string };
  readonly role: FailoverRole;
  readonly productVersion: string;
  readonly baseVersion: string;
  readonly certificateFingerprint: string;
}

/** What every failover endpoint together needs of the appliance that serves them. */
export type FailoverPeerHost = HelloHost & RelationshipPeerHost & SyncPeerHost;

/** What a peer learns of this appliance before anything else: who it is and what it runs. */
const hello: PeerRoute<HelloHost> = {
  method: 'POST',
  path: '/api/peer/hello',
  handler: ({ appliance }) => ({
    name: appliance.identity.name,
    role: appliance.role,
    productVersion: appliance.productVersion,
    baseVersion: appliance.baseVersion,
    schemaVersion: SCHEMA_VERSION,
    fingerprint: appliance.certificateFingerprint,
  }),
};

/** Every inter-appliance endpoint (failover relationship and synchronisation add theirs here). */
export const PEER_ROUTES: PeerRoute<FailoverPeerHost>[] = [
  hello,
  ...RELATIONSHIP_PEER_ROUTES,
  ...SYNC_ROUTES,
];
