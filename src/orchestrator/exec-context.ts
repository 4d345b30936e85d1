import type { Deployment } from './deployment.js';
import type { Plan } from './plan-types.js';

export interface ExecContext {
  deployment: Deployment;
  plan: Plan;
  /** Where backups, integrity snapshots and probe data of this run are kept. */
  workDir: string;
  echo: string;
  log: (line: string) => void;
  /** This step already ran into its drain deadline once (a resume). */
  waitedBefore?: boolean;
}

/** Every appliance the plan touches. */
export const inScope = (plan: Plan) => [
  ...new Set([
    plan.topology.primary,
    ...(plan.topology.backup ? [plan.topology.backup] : []),
    ...plan.topology.trafficNodes.map((n) => n.name),
  ]),
];
