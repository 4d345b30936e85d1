import type { ApplianceState } from './deployment.js';
import type { PlannedPackage, Strategy } from './plan-types.js';

export interface PlanInput {
  strategy: Strategy;
  inventory: string;
  trafficSwitch: string;
  appliances: ApplianceState[];
  packages: PlannedPackage[];
  drainTimeoutMs: number;
  onDrainTimeout: 'abort' | 'proceed';
  /** Roles the inventory declares, checked against what the appliances say. */
  declaredRoles?: Record<string, string | undefined>;
  now?: Date;
}

/** Predictions, from `npm run bench -- update` on the reference machine (docs/benchmarks.md). */
export const PREDICTED_MS = {
  installProduct: 4_000,
  installBase: 8_000,
  backup: 1_000,
  sync: 1_000,
  roleChange: 1_000,
  switch: 100,
  verify: 1_500,
  drain: 5_000,
  other: 300,
};

export const installMs = (pkgs: PlannedPackage[]) =>
  pkgs.reduce(
    (n, p) => n + (p.kind === 'base' ? PREDICTED_MS.installBase : PREDICTED_MS.installProduct),
    0,
  );

/** Half of the traffic nodes of each region (rounded up), the ones upgraded first (S22). */
export function offlineHalf(nodes: { name: string; region: string }[]): string[] {
  const byRegion = new Map<string, string[]>();
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name)))
    byRegion.set(n.region, [...(byRegion.get(n.region) ?? []), n.name]);
  return [...byRegion.values()].flatMap((names) => names.slice(0, Math.ceil(names.length / 2)));
}
