import { operationsOf, type Operation } from '../../shared/http/operations.js';
import { LoadBalancerInput } from '../load-balancer.js';
import { PointHereInput } from '../settings.js';
import type { TrafficSite } from './site.js';

/** An operation of the traffic domain: its handler sees the appliance as `TrafficSite`. */
export type TrafficOperation = Operation<unknown, unknown, unknown, TrafficSite>;
const op = operationsOf<TrafficSite>({ area: 'appliance', tag: 'appliance' });

/** /appliance > Networking > Traffic Switch (S19): the method that moves the site's traffic. */
export const trafficOperations: TrafficOperation[] = [
  op('getTrafficSwitch', 'GET /api/appliance/traffic', {
    summary:
      'Traffic Switch: the configured method (shared-ip, hosts-file, rfc2136, command, nat-forwarder) and its settings (secrets omitted), and where traffic goes now',
    response: { status: 200, description: 'The traffic switch' },
    handler: ({ appliance }) => appliance.traffic.shown(),
  }),
  op('setTrafficSwitch', 'PUT /api/appliance/traffic', {
    summary:
      'Set the traffic switch: {provider, ...its settings} as `gatehouse traffic` takes them; each bad setting is named',
    response: { status: 200, description: 'The traffic switch after the change' },
    handler: async ({ appliance, actor, req }) => {
      await appliance.traffic.set(actor, req.body);
      return appliance.traffic.shown();
    },
  }),
  op('pointTrafficHere', 'POST /api/appliance/traffic/point-here', {
    summary:
      "Point Here: send the site's traffic to this appliance (its first enabled unique address unless one is given) through the configured method",
    body: PointHereInput,
    response: { status: 200, description: 'Where traffic now goes' },
    handler: ({ appliance, actor, body }) =>
      appliance.traffic.pointHere(actor, body.address || undefined),
  }),
  op('setLoadBalancerServes', 'PUT /api/appliance/traffic/load-balancer', {
    summary:
      "A load balancer as the traffic switch: whether GET /health/primary may send the site's clients here ({serves: false} on the appliance the site leaves, true on the one it goes to); it follows the primary role by itself",
    body: LoadBalancerInput,
    response: { status: 200, description: 'Whether it serves now' },
    handler: ({ appliance, actor, body }) =>
      appliance.loadBalancer.set(actor, body.serves, 'set by an administrator'),
  }),
];
