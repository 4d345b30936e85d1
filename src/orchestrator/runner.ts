import { readJumpClientRollouts } from './jump-client-rollout.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isGatehouseError } from '../shared/errors.js';
import type { Deployment } from './deployment.js';
import { execute } from './executor.js';
import { siteEndpoint } from './site.js';
import { credentialsOf } from './inventory.js';
import type { Journal } from './journal.js';
import { describeNodes, reapplyDraining, restoreAccepting, type NodeState } from './node-states.js';
import type { Plan, Step } from './plan-types.js';
import { SiteProber } from './prober.js';
import { startEchoServer } from '../shared/echo-server.js';
import { buildReport, renderHtml, renderText } from './report.js';
import { readSiteRecords } from './site-records.js';
import { SessionLoad } from './session-load.js';
import { markUpgradeInProgress } from './upgrade-mark.js';
import { orchestratorErrors } from './error-codes.js';

export interface RunOptions {
  journal: Journal;
  workDir: string;
  /** Machine-readable event stream instead of the live step list. */
  json: boolean;
  write: (text: string) => void;
  command: string;
  /** The prober's period (default 50 ms). */
  probeEveryMs?: number;
}

export type RunOutcome = 'finished' | 'paused' | 'failed';

/** Steps after whose failure the healthy traffic nodes are set accepting again. */
const INSTALLS = new Set(['install', 'install-many']);

/** What a step did, when it says so (e.g. the sessions a drain that proceeded cut). */
const summaryOf = (detail: unknown) => {
  const summary = (detail as { summary?: unknown } | undefined)?.summary;
  return typeof summary === 'string' ? `: ${summary}` : '';
};

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * What the site recorded of its clients from the run's first journal entry to now, kept beside
 * the journal for the report.
 */
async function writeSiteRecords(deployment: Deployment, journal: Journal, workDir: string) {
  const first = journal.state().entries[0];
  if (!first) return;
  // An appliance that cannot be read is named in the records' `unread`; it fails nothing.
  const records = await readSiteRecords(deployment, Date.parse(first.at), Date.now());
  writeFileSync(path.join(workDir, 'site-records.json'), JSON.stringify(records, null, 2));
  const rollouts = await readJumpClientRollouts(deployment);
  writeFileSync(path.join(workDir, 'jump-client-upgrades.json'), JSON.stringify(rollouts, null, 2));
}

/** What an operator can do after a failed step: resume after fixing, or the safe way back. */
function advice(plan: Plan, step: Step, nodes: NodeState[]): string {
  const lines = [
    'Fix the cause, then run `gatehouse upgrade resume` to retry this step and go on.',
  ];
  const { primary, backup } = plan.topology;
  if (step.rollbackSafe && plan.strategy === 'cluster') {
    lines.push(
      `Rollback is still safe: ${primary} is still the primary node and serves the site on its version. Traffic nodes already upgraded get no clients until the primary node runs their version; the others serve.${nodes.length ? '' : ' If you stop here, let the nodes this run stopped accept new clients again (Management > Cluster, Accepting New Client Connections).'}`,
    );
  } else if (step.rollbackSafe) {
    lines.push(
      `Rollback is still safe: the site has not been switched. ${primary} still serves${backup ? `; re-establish failover from it with ${backup} as backup (its data is then overwritten by the primary's)` : ''}. An install that failed its health check has already rolled itself back.`,
    );
  } else lines.push('The site was already switched: going forward (resume) is the safe path.');
  if (nodes.length)
    lines.push(
      'Traffic nodes now (every healthy one accepts new clients while the run is stopped; resume drains again those the next steps need drained):',
      ...describeNodes(nodes).map((l) => `  ${l}`),
    );
  return lines.join('\n');
}

/**
 * Run (or resume) a journaled plan: every step in order, each recorded before and after, the
 * site probed every 50 ms (or opts.probeEveryMs) and live sessions kept running the whole time. Stops at the interim
 * pause (S4), at a failed step, or at the end, writing the report each time.
 */
export async function runPlan(deployment: Deployment, opts: RunOptions): Promise<RunOutcome> {
  const { journal } = opts;
  const plan = journal.plan();
  let state = journal.state();
  mkdirSync(opts.workDir, { recursive: true });
  const emit = (event: Record<string, unknown>, text: string) =>
    opts.write(
      opts.json ? JSON.stringify({ at: new Date().toISOString(), ...event }) + '\n' : text + '\n',
    );
  if (state.finished) {
    emit(
      { type: 'finished', already: true },
      'This upgrade has already finished; the report is in ' + opts.workDir,
    );
    return 'finished';
  }
  journal.append({
    type: 'run',
    at: new Date().toISOString(),
    pid: process.pid,
    command: opts.command,
  });

  const warn = (message: string) => emit({ type: 'warning', message }, `! ${message}`);
  await markUpgradeInProgress(deployment, plan, true, warn);
  const names = new Map(
    deployment.inventory.appliances.map((a) => [a.fingerprint.toUpperCase(), a.name]),
  );
  const site = siteEndpoint(deployment.inventory);
  const prober = new SiteProber(
    site,
    names,
    path.join(opts.workDir, 'probe.ndjson'),
    opts.probeEveryMs,
  );
  const echo = await startEchoServer();
  prober.start();
  let load: SessionLoad | undefined;
  const startLoad = async () => {
    try {
      const creds = credentialsOf(
        deployment.inventory,
        deployment.entry(plan.topology.primary),
      ).login;
      // The load's Jump Client is a new installation each run: its token replaces the last one.
      // It enrols where the site leads now (after the first window of an asynchronous upgrade,
      // the other appliance, whose tables the standalone old primary no longer feeds).
      const enrolAt = await prober.answerer().catch(() => plan.topology.primary);
      const jumpToken = (
        await deployment.call<{ token: string }>(
          enrolAt,
          'POST',
          '/api/login/jump-clients/tokens',
          { uses: 1, expiresInHours: 1, name: SessionLoad.jumpClientName, rebind: true },
        )
      ).token;
      load = new SessionLoad(
        site,
        { ...creds, jumpToken },
        echo.address,
        path.join(opts.workDir, 'sessions.json'),
      );
      await load.start();
    } catch (e) {
      emit(
        { type: 'warning', message: (e as Error).message },
        `! live sessions not started: ${(e as Error).message}`,
      );
    }
  };
  await startLoad();

  const finish = async (outcome: RunOutcome) => {
    // Paused between the windows, the upgrade is still in progress (S4, S23).
    if (outcome !== 'paused') await markUpgradeInProgress(deployment, plan, false, warn);
    await load?.stop();
    await prober.stop();
    await echo.close();
    await writeSiteRecords(deployment, journal, opts.workDir);
    const report = buildReport(journal, opts.workDir);
    writeFileSync(path.join(opts.workDir, 'report.json'), JSON.stringify(report, null, 2));
    writeFileSync(path.join(opts.workDir, 'report.html'), renderHtml(report));
    if (outcome !== 'paused' || !opts.json)
      emit({ type: 'report', outcome, report: opts.json ? report : undefined }, renderText(report));
    return outcome;
  };

  const total = plan.steps.length;
  let resuming = !!state.failed;
  for (const [i, step] of plan.steps.entries()) {
    const tag = `[${String(i + 1).padStart(2)}/${total}]`;
    if (state.done.has(step.id)) {
      emit(
        { type: 'step', id: step.id, status: 'done-earlier' },
        `${tag} ✓ ${step.title} (done earlier)`,
      );
      continue;
    }
    if (step.action.type === 'pause') {
      journal.append({ type: 'paused', at: new Date().toISOString(), step: step.id });
      emit(
        { type: 'paused', id: step.id },
        `${tag} ⏸ ${step.title}\nThe first maintenance window is complete; the deployment runs without failover until the second. When the new version is confirmed, run: gatehouse upgrade continue`,
      );
      return finish('paused');
    }
    emit(
      { type: 'step', id: step.id, status: 'started', title: step.title, s: step.s },
      `${tag} ▶ ${step.title} (${step.s.join(', ')})`,
    );
    journal.append({ type: 'step', at: new Date().toISOString(), id: step.id, status: 'started' });
    const t0 = Date.now();
    const ctx = {
      deployment,
      plan,
      workDir: opts.workDir,
      echo: echo.address,
      log: (l: string) => emit({ type: 'progress', id: step.id, line: l.trim() }, l),
      waitedBefore: state.entries.some(
        (e) =>
          e.type === 'step' &&
          e.id === step.id &&
          e.status === 'failed' &&
          e.error?.code === 'UPGRADE_DRAIN_TIMEOUT',
      ),
    };
    try {
      if (resuming) await reapplyDraining(ctx, i);
      resuming = false;
      const detail = await execute(ctx, step.action);
      journal.append({
        type: 'step',
        at: new Date().toISOString(),
        id: step.id,
        status: 'done',
        detail,
      });
      emit(
        { type: 'step', id: step.id, status: 'done', ms: Date.now() - t0, detail },
        `${tag} ✓ ${step.title} — ${secs(Date.now() - t0)}${summaryOf(detail)}`,
      );
    } catch (e) {
      const err = isGatehouseError(e)
        ? e
        : orchestratorErrors.UPGRADE_STEP_FAILED((e as Error).message);
      journal.append({
        type: 'step',
        at: new Date().toISOString(),
        id: step.id,
        status: 'failed',
        error: { code: err.code, message: err.message },
      });
      const nodes = INSTALLS.has(step.action.type)
        ? await restoreAccepting(deployment, plan).catch(() => [])
        : [];
      if (nodes.length) journal.append({ type: 'nodes', at: new Date().toISOString(), nodes });
      emit(
        {
          type: 'step',
          id: step.id,
          status: 'failed',
          error: { code: err.code, message: err.message },
          rollbackSafe: step.rollbackSafe,
          nodes,
        },
        `${tag} ✗ ${step.title}\n  [${err.code}] ${err.message}\n${advice(plan, step, nodes)}`,
      );
      return finish('failed');
    }
    state = journal.state();
  }
  journal.append({ type: 'finished', at: new Date().toISOString() });
  return finish('finished');
}
