import type { PeerRoute } from './peer-server.js';
import type { FailoverRelationship } from './relationship.js';

/** What the relationship's endpoints need of the appliance that serves them. */
export interface RelationshipPeerHost {
  readonly failover: Pick<
    FailoverRelationship,
    'acceptJoin' | 'acceptHeartbeat' | 'acceptBreak' | 'acceptRole' | 'acceptSyncInterval'
  >;
}

/** The relationship's inter-appliance endpoints (every call is signed, see peer-server.ts). */
export const RELATIONSHIP_PEER_ROUTES: PeerRoute<RelationshipPeerHost>[] = [
  {
    method: 'POST',
    path: '/api/peer/failover/join',
    handler: ({ appliance, from, body }) => appliance.failover.acceptJoin(from, body),
  },
  {
    method: 'POST',
    path: '/api/peer/failover/heartbeat',
    handler: ({ appliance, from, body }) => appliance.failover.acceptHeartbeat(from, body),
  },
  {
    method: 'POST',
    path: '/api/peer/failover/break',
    handler: ({ appliance, from }) => appliance.failover.acceptBreak(from),
  },
  {
    method: 'POST',
    path: '/api/peer/failover/become-primary',
    handler: ({ appliance, from, body }) => appliance.failover.acceptRole(from, 'primary', body),
  },
  {
    method: 'POST',
    path: '/api/peer/failover/become-backup',
    handler: ({ appliance, from, body }) => appliance.failover.acceptRole(from, 'backup', body),
  },
  {
    method: 'POST',
    path: '/api/peer/failover/sync-interval',
    handler: ({ appliance, from, body }) => appliance.failover.acceptSyncInterval(from, body),
  },
];
