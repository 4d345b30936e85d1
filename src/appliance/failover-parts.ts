import { SYSTEM } from '../shared/actor.js';
import type { InterApplianceKey } from '../site/security.js';
import type { SiteIdentity } from '../site/site-identity.js';
import { configChanges } from '../sessions/jump-client-identities.js';
import type { LoadBalancerMembership } from '../traffic/load-balancer.js';
import type { TrafficSwitchSettings } from '../traffic/settings.js';
import { FailoverRelationship } from '../failover/relationship.js';
import { SyncService } from '../failover/sync/service.js';
import type { ClientAddressSetting } from './client-address.js';
import type { SharedAddresses } from './shared-addresses.js';
import type { ApplianceBasics } from './wiring.js';

/** What the failover relationship is wired to in a running appliance (the `Appliance` is one). */
export interface FailoverWiring extends ApplianceBasics {
  readonly certificateFingerprint: string;
  readonly interApplianceKey: Pick<InterApplianceKey, 'get'>;
  readonly ready: boolean;
  readonly loadBalancer: Pick<LoadBalancerMembership, 'set'>;
  readonly addresses: Pick<SharedAddresses, 'followRole'>;
  readonly traffic: Pick<TrafficSwitchSettings, 'movingAddresses'>;
  readonly clientAddress: Pick<ClientAddressSetting, 'get'>;
  readonly siteIdentity: SiteIdentity;
}

/**
 * The failover relationship and its synchronisation service, and how a role reaches the rest
 * of the appliance: the load balancer's share and the shared addresses follow it.
 */
export function failoverParts(a: FailoverWiring) {
  const { db, events, identity } = a;
  // Establishing a relationship gives the load balancer's clients to the primary and not the
  // backup, as later role changes do (followRole); a break leaves both as they were.
  events.subscribe((e) => {
    const role = e.action === 'failover.established' ? e.details.role : undefined;
    if (role === 'primary' || role === 'backup')
      a.loadBalancer.set(SYSTEM, role === 'primary', `established as the failover ${role}`);
  });
  const sync = new SyncService({
    db,
    blobs: a.blobs,
    events,
    name: identity.name,
    fingerprint: a.certificateFingerprint,
    interApplianceKey: () => a.interApplianceKey.get(),
    revocations: () => configChanges(db).revocations,
  });
  const relationship: FailoverRelationship = new FailoverRelationship({
    db,
    events,
    name: identity.name,
    fingerprint: a.certificateFingerprint,
    key: () => a.interApplianceKey.get(),
    sync: () => sync,
    active: () => a.ready && db.open,
    followRole: (actor, role, clients) => {
      // The load balancer's share follows the role as shared addresses do.
      if (role !== 'standalone')
        a.loadBalancer.set(actor, role === 'primary', `became the failover ${role}`);
      return a.addresses.followRole(actor, role, clients);
    },
    movingAddresses: () => a.traffic.movingAddresses(identity.hostnames),
    clientAddress: () => a.clientAddress.get(),
    siteCa: a.siteIdentity,
  });
  sync.start(() => (a.ready ? relationship.view() : undefined));
  return { sync, relationship };
}
