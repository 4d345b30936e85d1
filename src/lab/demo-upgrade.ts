import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Deployment } from '../orchestrator/deployment.js';
import { loadInventory } from '../orchestrator/inventory.js';
import { Journal } from '../orchestrator/journal.js';
import { packagesFromServer } from '../orchestrator/packages.js';
import { planUpgrade } from '../orchestrator/planner.js';
import { runPlan } from '../orchestrator/runner.js';
import { labDown } from './lifecycle.js';
import { parseLabOptions } from './plan.js';
import { publishNext } from './publish.js';
import { statsFile } from './state.js';
import type { SessionStats } from './synthetic.js';
import { labUp } from './up.js';

export interface UpgradeDemoOptions {
  trafficNodes: number;
  regions: number;
  /** Leave the lab running afterwards (stop it with `gatehouse lab down --dir DIR`). */
  keep: boolean;
  dir?: string;
  log: (line: string) => void;
}

const agentStats = (dir: string): SessionStats | undefined => {
  try {
    return (JSON.parse(readFileSync(statsFile(dir), 'utf8')) as { sessions: SessionStats })
      .sessions;
  } catch {
    return undefined;
  }
};

/**
 * Gatehouse's main job on embedded defaults: a cluster with a backup primary node on loopback
 * (4 traffic nodes in 2 regions), next-version packages built from this code and published,
 * the cluster upgrade run by the orchestrator under live sessions, its report, then the lab
 * stopped. Returns the report's outcome.
 */
export async function runUpgradeDemo(
  o: UpgradeDemoOptions,
): Promise<'finished' | 'paused' | 'failed'> {
  const dir = o.dir ?? mkdtempSync(path.join(os.tmpdir(), 'gatehouse-demo-'));
  const t0 = Date.now();
  const step = (s: string) => o.log(`\n=== ${s} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  let started = false;
  try {
    step(
      `1. A cluster-failover lab: primary node, backup primary node, ${o.trafficNodes} traffic nodes in ${o.regions} regions`,
    );
    started = true;
    await labUp(
      dir,
      parseLabOptions({
        topology: 'cluster-failover',
        trafficNodes: String(o.trafficNodes),
        regions: String(o.regions),
        // The orchestrator keeps its own sessions of a few seconds; the agent's sessions are short.
        longSessions: '0',
      }),
      o.log,
    );
    step('2. Next-version packages, built from this code and signed with the lab release key');
    const built = await publishNext(dir, {});
    for (const b of built) o.log(`  built and published ${b.kind} ${b.version}: ${b.file}`);

    const target = built.find((b) => b.kind === 'product')!.version;
    step(`3. The upgrade plan (gatehouse upgrade plan --strategy cluster --to ${target})`);
    const inventory = loadInventory(path.join(dir, 'inventory.yaml'));
    const deployment = new Deployment(inventory);
    try {
      const appliances = await deployment.discover();
      const primary = appliances.find(
        (a) => a.cluster?.role === 'primary-node' && a.role !== 'backup',
      )?.name;
      if (!primary) throw new Error('the lab has no primary node to ask for updates');
      // As an administrator would: the primary node checks its update server for the version.
      const packages = await packagesFromServer(deployment, primary, target);
      o.log(
        `  ${primary}'s update server offers ${packages.map((p) => `${p.kind} ${p.version}`).join(', ')}`,
      );
      const plan = planUpgrade({
        strategy: 'cluster',
        inventory: inventory.file,
        trafficSwitch: inventory.trafficSwitch.method,
        appliances,
        packages,
        drainTimeoutMs: 60_000,
        onDrainTimeout: 'abort',
      });
      for (const c of plan.checks) o.log(`  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
      o.log(
        `  ${plan.steps.length} steps; predicted client-visible downtime ${(plan.predicted.siteDowntimeMs / 1000).toFixed(1)} s`,
      );
      if (plan.checks.some((c) => !c.ok))
        throw new Error("the plan's preconditions are not met (see above)");

      step('4. The cluster upgrade under live sessions (gatehouse upgrade run)');
      const before = agentStats(dir);
      const workDir = path.join(dir, 'gatehouse-upgrade');
      const journal = new Journal(path.join(workDir, 'journal.ndjson'));
      const { mkdirSync } = await import('node:fs');
      mkdirSync(workDir, { recursive: true });
      journal.append({ type: 'plan', at: new Date().toISOString(), plan });
      const outcome = await runPlan(deployment, {
        journal,
        workDir,
        json: false,
        write: (t) => o.log(t.replace(/\n$/, '')),
        command: 'demo',
      });
      const after = agentStats(dir);
      if (before && after)
        o.log(
          `  the lab's own synthetic sessions during the upgrade: ${after.started - before.started} started, ${after.failed - before.failed} failed`,
        );
      o.log(`  HTML report: ${path.join(workDir, 'report.html')}`);
      return outcome;
    } finally {
      await deployment.close();
    }
  } finally {
    if (started && existsSync(path.join(dir, 'lab.json'))) {
      if (o.keep)
        o.log(`\nThe lab keeps running in ${dir}; stop it with: gatehouse lab down --dir ${dir}`);
      else {
        step('5. Stopping the lab');
        const down = await labDown(dir, { purge: false });
        o.log(
          `  stopped ${down.stopped.length} processes${down.killed.length ? `, killed ${down.killed.length}` : ''}; the lab's files and the report stay in ${dir}`,
        );
      }
    }
  }
}
