import { actingPrimary, type Deployment } from './deployment.js';
import { execute, type ExecContext } from './executor.js';
import type { Plan } from './plan-types.js';

/** A traffic node as the report lists it when a run stops. */
export interface NodeState {
  name: string;
  accepting: boolean;
  /** Answers its primary node, ready and not installing. */
  healthy: boolean;
  version: string | null;
  connectedClients: number | null;
  /** This run set it accepting again before stopping. */
  restored: boolean;
}

interface ClusterNodeView {
  name: string;
  accepting: boolean;
  lastError: string | null;
  status: {
    productVersion: string;
    ready: boolean;
    update: string | null;
    connectedClients?: number;
  } | null;
}

const isHealthy = (n: ClusterNodeView) =>
  !!n.status && !n.lastError && n.status.ready && !n.status.update;

/**
 * A failed step must not leave healthy traffic nodes out of service: the runbook only keeps a
 * node from accepting while it is drained for an install that is going on, so when the run
 * stops every healthy node accepts new clients again (an upgraded node still gets none until
 * the primary node runs its version). `resume` drains them again before installing.
 */
export async function restoreAccepting(d: Deployment, plan: Plan): Promise<NodeState[]> {
  if (plan.strategy !== 'cluster' || plan.topology.trafficNodes.length === 0) return [];
  const primary = await actingPrimary(d, plan);
  if (!primary) return [];
  const view = async () =>
    (await d.call<{ nodes: ClusterNodeView[] }>(primary, 'GET', '/api/login/cluster')).nodes;
  const restored = new Set<string>();
  for (const n of await view()) {
    if (n.accepting || !isHealthy(n)) continue;
    await d.call(primary, 'PATCH', `/api/login/cluster/nodes/${encodeURIComponent(n.name)}`, {
      accepting: true,
    });
    restored.add(n.name);
  }
  return (await view()).map((n) => ({
    name: n.name,
    accepting: n.accepting,
    healthy: isHealthy(n),
    version: n.status?.productVersion ?? null,
    connectedClients: n.status?.connectedClients ?? null,
    restored: restored.has(n.name),
  }));
}

/**
 * Whether the runbook keeps each traffic node from accepting once the steps before `index` are
 * done: replayed from its own Accepting steps, so `resume` can put back what a stop restored.
 */
export function runbookNotAccepting(plan: Plan, index: number): string[] {
  const off = new Set<string>();
  for (const step of plan.steps.slice(0, index)) {
    if (step.action.type !== 'set-accepting') continue;
    for (const n of step.action.nodes)
      if (step.action.accepting) off.delete(n);
      else off.add(n);
  }
  return [...off];
}

export function describeNodes(nodes: NodeState[]): string[] {
  return nodes.map(
    (n) =>
      `${n.name}: ${n.accepting ? 'accepting' : 'NOT accepting'}${n.restored ? ' (set accepting again)' : ''}, ${n.healthy ? 'healthy' : 'not healthy'}, ${n.version ? `product ${n.version}` : 'version unknown'}${n.connectedClients !== null ? `, ${n.connectedClients} connected client(s)` : ''}`,
  );
}

/**
 * On resume, put back what the runbook wants before the step at `index`: nodes a stop set
 * accepting again stop accepting and drain again (an install never lands on a node with
 * clients unless the operator chose `--on-drain-timeout proceed`).
 */
export async function reapplyDraining(ctx: ExecContext, index: number): Promise<string[]> {
  const { deployment: d, plan } = ctx;
  const wanted = runbookNotAccepting(plan, index);
  if (wanted.length === 0) return [];
  const primary = await actingPrimary(d, plan);
  if (!primary) return [];
  const view = await d.call<{ nodes: ClusterNodeView[] }>(primary, 'GET', '/api/login/cluster');
  const again = view.nodes.filter((n) => n.accepting && wanted.includes(n.name)).map((n) => n.name);
  if (again.length === 0) return [];
  ctx.log(`  ${again.join(', ')}: accepting since the run stopped; draining again before going on`);
  await execute(ctx, { type: 'set-accepting', primary, nodes: again, accepting: false });
  await execute(ctx, { type: 'wait-drained', primary, nodes: again });
  return again;
}
