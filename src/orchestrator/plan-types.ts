/** The upgrade strategies of the source document. */
export type Strategy = 'synchronous' | 'asynchronous' | 'cluster';

/** A package the plan installs, read from --packages or offered by the update server. */
export interface PlannedPackage {
  /** sha256 of the package file: its id once staged on an appliance. */
  id: string;
  kind: 'base' | 'product';
  version: string;
  requiresBase?: string;
  size: number;
  /** Where the orchestrator uploads it from; absent when appliances download it (--to). */
  file?: string;
  /** The update server's id of it, when appliances download it (--to). */
  serverId?: string;
}

export type Action =
  | { type: 'integrity'; phase: 'before' | 'after' }
  | { type: 'backup'; appliance: string }
  | { type: 'sync'; primary: string }
  | { type: 'break'; primary: string }
  | { type: 'stage'; appliance: string }
  | { type: 'distribute'; primary: string }
  | { type: 'install'; appliance: string }
  /** The same packages on several appliances at once (traffic nodes of one half, S24, S27). */
  | { type: 'install-many'; appliances: string[] }
  | { type: 'set-accepting'; primary: string; nodes: string[]; accepting: boolean }
  | { type: 'wait-drained'; primary: string; nodes: string[] }
  | { type: 'become-backup'; appliance: string }
  | { type: 'become-primary'; appliance: string }
  | { type: 'backup-operations'; appliance: string; enabled: boolean }
  | { type: 'switch-traffic'; from: string; to: string }
  | { type: 'cluster-sync'; primary: string }
  | { type: 'establish'; primary: string; backup: string }
  | { type: 'verify'; appliances: string[]; via: string; site: boolean }
  | { type: 'pause'; reason: string };

export interface Step {
  /** Stable within a plan: the journal records progress by it. */
  id: string;
  /** The behaviours of DESIGN.md this step carries out. */
  s: string[];
  title: string;
  /** 1 or 2: the maintenance window; 0: preparation. */
  window: 0 | 1 | 2;
  action: Action;
  /** What clients notice while it runs. */
  impact: 'none' | 'site-down' | 'no-failover';
  /** Predicted duration (ms). */
  predictedMs: number;
  /** Before this step a rollback is still safe (nothing switched the site yet). */
  rollbackSafe: boolean;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Plan {
  strategy: Strategy;
  createdAt: string;
  inventory: string;
  target: { product?: string; base?: string };
  packages: PlannedPackage[];
  topology: {
    primary: string;
    backup?: string;
    trafficNodes: { name: string; region: string }[];
    offlineFirst: string[];
  };
  checks: Check[];
  steps: Step[];
  predicted: {
    siteDowntimeMs: number;
    /** From Break (or the backup's install) to the relationship restored, without the interim period. */
    withoutFailoverMs: number;
    totalMs: number;
  };
  options: { drainTimeoutMs: number; onDrainTimeout: 'abort' | 'proceed' };
}
