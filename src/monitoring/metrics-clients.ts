import { Counter, Gauge, type Registry } from 'prom-client';
import type { EventRecord } from '../site/events.js';
import type { ClusterNodeSnapshot, MonitoredAppliance } from './source.js';

const CLIENT_KINDS = ['representative-console', 'jump-client', 'customer-client'] as const;
const NODE_STATES = ['serving', 'not-accepting', 'updating', 'unreachable'] as const;

/** A traffic node's state as the primary node sees it: one of NODE_STATES. */
function nodeState(n: ClusterNodeSnapshot): (typeof NODE_STATES)[number] {
  if (!n.reachable) return 'unreachable';
  if (n.updating) return 'updating';
  return n.accepting ? 'serving' : 'not-accepting';
}

/**
 * Clients, sessions and the cluster: what this appliance relays now, what it started and
 * refused since it started, and (on a primary node) each traffic node as last polled. Node
 * names are configured by administrators, so a label per node stays bounded.
 */
export function clientMetrics(registry: Registry, appliance: MonitoredAppliance): void {
  const registers = [registry];
  new Gauge({
    name: 'gatehouse_accepting_new_clients',
    help: 'Whether this appliance accepts new client connections (0 on a backup or a drained traffic node)',
    registers,
    collect() {
      this.set(appliance.acceptingNewClients() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'gatehouse_connected_clients',
    help: 'Clients connected to this appliance, by kind',
    labelNames: ['kind'],
    registers,
    collect() {
      const counts = new Map<string, number>(CLIENT_KINDS.map((k) => [k, 0]));
      for (const c of appliance.connectedClients())
        if (counts.has(c.kind)) counts.set(c.kind, counts.get(c.kind)! + 1);
      for (const [kind, n] of counts) this.set({ kind }, n);
    },
  });
  new Gauge({
    name: 'gatehouse_sessions_active',
    help: 'Sessions relayed by this appliance now',
    registers,
    collect() {
      this.set(appliance.activeSessions());
    },
  });
  const started = new Counter({
    name: 'gatehouse_sessions_started_total',
    help: 'Sessions started on this appliance',
    registers,
  });
  const failed = new Counter({
    name: 'gatehouse_sessions_failed_total',
    help: 'Sessions that could not be opened, or resumed, on this appliance',
    registers,
  });
  const resumed = new Counter({
    name: 'gatehouse_sessions_resumed_total',
    help: 'Sessions taken up again on this appliance after a leg broke (a part after the first)',
    registers,
  });
  const signIns = new Counter({
    name: 'gatehouse_sign_ins_total',
    help: 'Administrator sign-ins, by area and outcome',
    labelNames: ['area', 'outcome'],
    registers,
  });
  appliance.events.subscribe((e: EventRecord) => {
    if (e.action === 'session.started') {
      // A resumable session's later parts are `session.started` with part 2, 3…
      if (Number(e.details.part ?? 1) > 1) resumed.inc();
      else started.inc();
    } else if (e.action === 'session.refused' || e.action === 'session.resume.refused')
      failed.inc();
    if (e.action === 'auth.login' && (e.area === 'login' || e.area === 'appliance'))
      signIns.inc({ area: e.area, outcome: e.outcome });
  });
  clusterMetrics(registry, appliance);
}

function clusterMetrics(registry: Registry, appliance: MonitoredAppliance): void {
  const registers = [registry];
  const perNode = (name: string, help: string, value: (n: ClusterNodeSnapshot) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['node', 'region'],
      registers,
      collect() {
        this.reset();
        for (const n of appliance.clusterNodes()) {
          const v = value(n);
          if (v !== null) this.set({ node: n.name, region: n.region }, v);
        }
      },
    });
  new Gauge({
    name: 'gatehouse_cluster_nodes',
    help: 'Traffic nodes of this primary node, by state',
    labelNames: ['state'],
    registers,
    collect() {
      const nodes = appliance.clusterNodes();
      for (const state of NODE_STATES)
        this.set({ state }, nodes.filter((n) => nodeState(n) === state).length);
    },
  });
  perNode(
    'gatehouse_cluster_node_accepting',
    'Whether a traffic node is set to accept new client connections',
    (n) => (n.accepting ? 1 : 0),
  );
  perNode(
    'gatehouse_cluster_node_eligible',
    'Whether a traffic node gets new clients now (accepting, reachable, on the primary node version)',
    (n) => (n.eligible ? 1 : 0),
  );
  perNode(
    'gatehouse_cluster_node_connected_clients',
    'Clients connected to a traffic node, as it last reported',
    (n) => n.connectedClients,
  );
  perNode(
    'gatehouse_cluster_node_last_contact_timestamp_seconds',
    'When a traffic node last answered its primary node',
    (n) => (n.lastContact === null ? null : n.lastContact / 1000),
  );
  new Gauge({
    name: 'gatehouse_cluster_node_info',
    help: 'The product version a traffic node last reported (1 per node)',
    labelNames: ['node', 'region', 'product_version'],
    registers,
    collect() {
      this.reset();
      for (const n of appliance.clusterNodes())
        if (n.productVersion)
          this.set({ node: n.name, region: n.region, product_version: n.productVersion }, 1);
    },
  });
}
