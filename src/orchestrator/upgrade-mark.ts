import type { Deployment } from './deployment.js';
import { finalRoles } from './integrity-check.js';
import type { Plan } from './plan-types.js';

const PATH = '/api/appliance/upgrade-in-progress';

/**
 * S23: the appliance whose site data the upgrade overwrites — the primary that hands its role
 * over (asynchronous runbook, a cluster with a backup primary node) — is marked while the run
 * is in progress: its /login shows a banner and every change asks for confirmation. A plan that
 * keeps its primary marks nothing.
 */
export function oldPrimary(plan: Plan): string | undefined {
  const { finalPrimary } = finalRoles(plan);
  return finalPrimary === plan.topology.primary ? undefined : plan.topology.primary;
}

/**
 * Mark it before the first step (again when resuming: the first time is kept), or clear the mark
 * when the run finished or a step failed. Failing to is a warning, not a stop.
 */
export async function markUpgradeInProgress(
  deployment: Deployment,
  plan: Plan,
  marked: boolean,
  warn: (message: string) => void,
): Promise<void> {
  const name = oldPrimary(plan);
  if (!name) return;
  const target = [plan.target.product, plan.target.base].filter(Boolean).join(' / ');
  const mark = {
    by: 'gatehouse upgrade',
    note: `${plan.strategy} upgrade to ${target || 'the packages given'}; ${finalRoles(plan).finalPrimary} becomes the primary`,
  };
  await (
    marked ? deployment.call(name, 'PUT', PATH, mark) : deployment.call(name, 'DELETE', PATH)
  ).catch((e: Error) =>
    warn(`could not ${marked ? 'mark' : 'clear the mark of'} ${name} (S23): ${e.message}`),
  );
}
