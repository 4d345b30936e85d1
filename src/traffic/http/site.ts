import type { LoadBalancerMembership } from '../load-balancer.js';
import type { TrafficSwitchSettings } from '../settings.js';

/** What the Traffic Switch page and API need of the appliance they run in: its switch. */
export interface TrafficSite {
  readonly traffic: TrafficSwitchSettings;
  /** Whether a load balancer checking /health/primary sends the site's clients here. */
  readonly loadBalancer: LoadBalancerMembership;
}
