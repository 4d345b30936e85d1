import type { Plan } from './plan-types.js';
import { offlineHalf, type PlanInput } from './plan-input.js';
import { checkPreconditions } from './plan-checks.js';
import { pairSteps } from './runbook-pair.js';
import { clusterSteps } from './runbook-cluster.js';

export { PREDICTED_MS, offlineHalf, type PlanInput } from './plan-input.js';

/**
 * Plan an upgrade: check the preconditions and lay out the runbook of the source document for
 * the strategy, each step tagged with the behaviours it carries out. Pure: everything it needs
 * was read from the appliances before.
 */
export function planUpgrade(input: PlanInput): Plan {
  const { checks, primary, backup, nodeNames, pkgs, product, base } = checkPreconditions(input);
  const steps = primary
    ? input.strategy === 'cluster'
      ? clusterSteps(primary.name, backup?.name, nodeNames, pkgs, input)
      : pairSteps(input.strategy, primary.name, backup?.name ?? '?', pkgs, input.trafficSwitch)
    : [];
  const siteDowntimeMs = steps
    .filter((s) => s.impact === 'site-down')
    .reduce((n, s) => n + s.predictedMs, 0);
  const totalMs = steps.reduce((n, s) => n + s.predictedMs, 0);
  let withoutFailoverMs = 0;
  let counting = false;
  for (const s of steps) {
    if (
      s.action.type === 'break' ||
      (input.strategy === 'cluster' &&
        s.action.type === 'install' &&
        s.action.appliance === backup?.name)
    )
      counting = true;
    if (counting && s.action.type !== 'pause') withoutFailoverMs += s.predictedMs;
    if (
      s.action.type === 'establish' ||
      (s.action.type === 'backup-operations' && s.action.enabled)
    )
      counting = false;
  }
  return {
    strategy: input.strategy,
    createdAt: (input.now ?? new Date()).toISOString(),
    inventory: input.inventory,
    target: { product: product?.version, base: base?.version },
    packages: pkgs,
    topology: {
      primary: primary?.name ?? '?',
      backup: backup?.name,
      trafficNodes: nodeNames,
      offlineFirst: input.strategy === 'cluster' ? offlineHalf(nodeNames) : [],
    },
    checks,
    steps,
    predicted: { siteDowntimeMs, withoutFailoverMs: backup ? withoutFailoverMs : 0, totalMs },
    options: { drainTimeoutMs: input.drainTimeoutMs, onDrainTimeout: input.onDrainTimeout },
  };
}
