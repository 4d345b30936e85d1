import { SCHEMA_VERSION } from '../store/migrations.js';
import type { PeerRoute } from './peer-server.js';
import { SYNC_ROUTES } from './sync/routes.js';
import { RELATIONSHIP_PEER_ROUTES } from './relationship-routes.js';

/** What a peer learns of this appliance before anything else: who it is and what it runs. */
const hello: PeerRoute = {
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
export const PEER_ROUTES: PeerRoute[] = [hello, ...RELATIONSHIP_PEER_ROUTES, ...SYNC_ROUTES];
