import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';

import { reportAndExit, run } from './errors.js';
import { sharedErrors } from '../shared/error-codes.js';
import { cliErrors } from './error-codes.js';

interface Common {
  inventory: string;
  workDir?: string;
  json?: boolean;
  metricsTextfile?: string;
  probeInterval?: number;
}
interface PlanOptions extends Common {
  strategy: 'synchronous' | 'asynchronous' | 'cluster';
  packages?: string;
  to?: string;
  drainTimeout: number;
  onDrainTimeout: 'abort' | 'proceed';
}

const seconds = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected whole seconds');
  return Number(v);
};

/** The prober's period: 10 ms catches an outage the default 50 ms can miss (a real VIP move). */
const probeMs = (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 10 || n > 1_000)
    throw new InvalidArgumentError('expected whole milliseconds from 10 to 1000');
  return n;
};

const workDirOf = (o: Common) =>
  path.resolve(
    o.workDir ?? path.join(path.dirname(path.resolve(o.inventory)), 'gatehouse-upgrade'),
  );

async function open(o: Common) {
  const { loadInventory } = await import('../orchestrator/inventory.js');
  const { Deployment } = await import('../orchestrator/deployment.js');
  const { Journal } = await import('../orchestrator/journal.js');
  const inventory = loadInventory(o.inventory);
  return {
    deployment: new Deployment(inventory),
    journal: new Journal(path.join(workDirOf(o), 'journal.ndjson')),
  };
}

async function makePlan(o: PlanOptions) {
  if (!!o.packages === !!o.to)
    throw sharedErrors.VALIDATION_FAILED(
      '--packages DIR or --to VERSION: give exactly one (the signed packages, or the product version the update server offers).',
      {
        fields: [{ field: '--packages', message: 'or --to is required' }],
      },
    );
  const { deployment, journal } = await open(o);
  const { planUpgrade } = await import('../orchestrator/planner.js');
  const { packagesFromDir, packagesFromServer } = await import('../orchestrator/packages.js');
  const appliances = await deployment.discover();
  const primary =
    appliances.find((a) => a.role === 'primary' || a.cluster?.role === 'primary-node')?.name ??
    appliances[0]!.name;
  const packages = o.packages
    ? await packagesFromDir(o.packages)
    : await packagesFromServer(deployment, primary, o.to!);
  const plan = planUpgrade({
    strategy: o.strategy,
    inventory: deployment.inventory.file,
    trafficSwitch: deployment.inventory.trafficSwitch.method,
    appliances,
    packages,
    drainTimeoutMs: o.drainTimeout * 1000,
    onDrainTimeout: o.onDrainTimeout,
    declaredRoles: Object.fromEntries(deployment.inventory.appliances.map((a) => [a.name, a.role])),
  });
  return { plan, deployment, journal };
}

function printPlan(plan: Awaited<ReturnType<typeof makePlan>>['plan'], json?: boolean): void {
  if (json) return void process.stdout.write(JSON.stringify(plan) + '\n');
  const out: string[] = [
    `Plan: ${plan.strategy} upgrade to ${[plan.target.base && `base ${plan.target.base}`, plan.target.product && `product ${plan.target.product}`].filter(Boolean).join(' + ')}`,
    '',
    'Preconditions:',
  ];
  for (const c of plan.checks) out.push(`  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
  out.push('', 'Steps:');
  let window = -1;
  for (const [i, s] of plan.steps.entries()) {
    if (s.window !== window) {
      window = s.window;
      out.push(window === 0 ? '  Preparation' : `  Maintenance window ${window}`);
    }
    out.push(
      `  ${String(i + 1).padStart(3)}. ${s.title} [${s.s.join(', ')}]${s.impact === 'site-down' ? ' — site downtime' : ''}`,
    );
  }
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  out.push('', `Predicted client-visible downtime: ${sec(plan.predicted.siteDowntimeMs)}`);
  if (plan.topology.backup)
    out.push(
      `Predicted time without failover: ${sec(plan.predicted.withoutFailoverMs)}${plan.strategy === 'cluster' ? '' : ' plus the interim period between the windows (S4)'}`,
    );
  out.push(`Predicted duration of the work: ${sec(plan.predicted.totalMs)}`);
  process.stdout.write(out.join('\n') + '\n');
}

function requireChecks(plan: Awaited<ReturnType<typeof makePlan>>['plan']): void {
  const failed = plan.checks.filter((c) => !c.ok);
  if (failed.length)
    throw cliErrors.UPGRADE_PRECONDITIONS_FAILED(
      `The plan's preconditions are not met: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}. Nothing was changed.`,
    );
}

async function runJournal(o: Common, command: string): Promise<void> {
  const { deployment, journal } = await open(o);
  const { runPlan } = await import('../orchestrator/runner.js');
  const textfile = o.metricsTextfile
    ? await import('../orchestrator/metrics-textfile.js')
    : undefined;
  if (textfile) await textfile.writeUpgradeTextfile(o.metricsTextfile!, undefined);
  try {
    const outcome = await runPlan(deployment, {
      journal,
      workDir: workDirOf(o),
      json: !!o.json,
      write: (t) => process.stdout.write(t),
      command,
      ...(o.probeInterval ? { probeEveryMs: o.probeInterval } : {}),
    });
    process.exitCode = outcome === 'failed' ? 1 : 0;
  } finally {
    if (textfile) {
      const { buildReport } = await import('../orchestrator/report.js');
      await textfile.writeUpgradeTextfile(o.metricsTextfile!, buildReport(journal, workDirOf(o)));
    }
    await deployment.close();
  }
}

export function upgradeCommand(): Command {
  const cmd = new Command('upgrade').description(
    'plan and run the upgrade of a whole deployment (failover pair or cluster), measured and resumable',
  );
  const inventory = new Option(
    '--inventory <file>',
    'the deployment inventory (YAML; see docs/orchestrator.md)',
  ).makeOptionMandatory();
  const workDir = new Option(
    '--work-dir <dir>',
    'journal, backups, probe data and report (default: gatehouse-upgrade beside the inventory)',
  );
  const probeInterval = new Option(
    '--probe-interval <ms>',
    'how often the site is probed (TLS handshake + /health), 10 to 1000 ms',
  ).argParser(probeMs);
  const metricsTextfile = new Option(
    '--metrics-textfile <file>',
    "write the run's results for Prometheus (node_exporter textfile collector, *.prom) at start and end",
  );
  const withPlanOptions = (c: Command) =>
    c
      .addOption(inventory)
      .addOption(
        new Option(
          '--strategy <strategy>',
          'synchronous (S2), asynchronous (S3) or cluster (S22–S30)',
        )
          .choices(['synchronous', 'asynchronous', 'cluster'])
          .makeOptionMandatory(),
      )
      .option('--packages <dir>', 'directory of signed packages (.ghpkg) to install')
      .option('--to <version>', 'product version to install from the update server instead')
      .option(
        '--drain-timeout <seconds>',
        'how long to wait for a traffic node to drain',
        seconds,
        120,
      )
      .addOption(
        new Option(
          '--on-drain-timeout <choice>',
          'when a node has not drained in time: abort (nothing installed on it; resume later) or proceed (its sessions are cut)',
        )
          .choices(['abort', 'proceed'])
          .default('abort'),
      )
      .option('--json', 'print JSON');

  withPlanOptions(
    cmd
      .command('plan')
      .description(
        'check the preconditions and print the steps, the predicted downtime and the window without failover; changes nothing',
      ),
  ).action(async (o: PlanOptions) => {
    try {
      const { plan, deployment } = await makePlan(o);
      await deployment.close();
      printPlan(plan, o.json);
      if (plan.checks.some((c) => !c.ok)) process.exitCode = 2;
    } catch (e) {
      reportAndExit(e);
    }
  });

  withPlanOptions(
    cmd
      .command('run')
      .description(
        "plan, then run every step through the appliances' API, journaled (resume after any interruption)",
      ),
  )
    .addOption(workDir)
    .addOption(metricsTextfile)
    .addOption(probeInterval)
    .action(
      run(async (o: PlanOptions) => {
        const { plan, deployment, journal } = await makePlan(o);
        await deployment.close();
        if (journal.exists && !journal.state().finished)
          throw cliErrors.UPGRADE_IN_PROGRESS(
            `An upgrade is already in progress (${journal.file}). Run \`gatehouse upgrade resume --inventory ${o.inventory}\`, or \`continue\` after the interim pause.`,
          );
        requireChecks(plan);
        if (!o.json) printPlan(plan);
        const { mkdirSync, renameSync } = await import('node:fs');
        // The last finished run keeps its report, under a name with its date.
        if (journal.exists)
          renameSync(
            workDirOf(o),
            `${workDirOf(o)}.${new Date().toISOString().replace(/[:.]/g, '-')}`,
          );
        mkdirSync(workDirOf(o), { recursive: true });
        journal.append({ type: 'plan', at: new Date().toISOString(), plan });
        await runJournal(o, 'run');
      }),
    );

  cmd
    .command('resume')
    .description('continue a run after the orchestrator was interrupted or a step failed')
    .addOption(inventory)
    .addOption(workDir)
    .addOption(metricsTextfile)
    .addOption(probeInterval)
    .option('--json', 'print a JSON event stream')
    .addOption(
      new Option(
        '--on-drain-timeout <choice>',
        "change the plan's choice for traffic nodes that do not drain in time: abort (wait again) or proceed (install anyway, cutting their sessions)",
      ).choices(['abort', 'proceed']),
    )
    .action(
      run(async (o: Common & { onDrainTimeout?: 'abort' | 'proceed' }) => {
        const { journal } = await open(o);
        const state = journal.state();
        if (state.paused)
          throw cliErrors.UPGRADE_PAUSED(
            'The upgrade waits at the interim period between the maintenance windows (S4). Run `gatehouse upgrade continue` to start the second window.',
          );
        if (o.onDrainTimeout && o.onDrainTimeout !== journal.plan().options.onDrainTimeout)
          journal.append({
            type: 'options',
            at: new Date().toISOString(),
            onDrainTimeout: o.onDrainTimeout,
          });
        await runJournal(o, 'resume');
      }),
    );

  cmd
    .command('continue')
    .description('end the interim period (S4) and run the second maintenance window')
    .addOption(inventory)
    .addOption(workDir)
    .addOption(metricsTextfile)
    .addOption(probeInterval)
    .option('--json', 'print a JSON event stream')
    .option(
      '--at <time>',
      'start the second window at this time (ISO 8601 with its zone, e.g. 2026-12-07T22:00:00Z); the process waits for it; `gatehouse upgrade cancel` cancels',
    )
    .action(
      run(async (o: Common & { at?: string }) => {
        const { journal } = await open(o);
        const notPaused = () =>
          cliErrors.UPGRADE_NOT_PAUSED(
            'The upgrade is not waiting at the interim pause; use `gatehouse upgrade resume` to go on.',
          );
        if (!journal.state().paused) throw notPaused();
        if (o.at !== undefined) {
          const { waitForWindow } = await import('../orchestrator/schedule.js');
          const { parseWindowTime } = await import('../shared/window-time.js');
          const runAt = parseWindowTime(o.at);
          const say = (line: string) => process.stdout.write(line + '\n');
          if ((await waitForWindow(journal, 'continue', runAt, say)) === 'cancelled') {
            say('The scheduled window was cancelled; nothing was run.');
            return;
          }
          if (!journal.state().paused) throw notPaused();
        }
        journal.append({ type: 'continued', at: new Date().toISOString() });
        await runJournal(o, 'continue');
      }),
    );

  cmd
    .command('cancel')
    .description('cancel the scheduled window (`continue --at`); its waiting process exits')
    .addOption(inventory)
    .addOption(workDir)
    .action(
      run(async (o: Common) => {
        const { journal } = await open(o);
        const { cancelSchedule } = await import('../orchestrator/schedule.js');
        const cancelled = cancelSchedule(journal);
        process.stdout.write(
          `Cancelled \`gatehouse upgrade ${cancelled.command}\` scheduled for ${cancelled.runAt}.\n`,
        );
      }),
    );

  cmd
    .command('status')
    .description(
      'where the upgrade stands: steps done, the interim pause, a scheduled window, scheduled switchovers',
    )
    .addOption(inventory)
    .addOption(workDir)
    .option('--json', 'print JSON')
    .action(
      run(async (o: Common) => {
        const { deployment, journal } = await open(o);
        const { upgradeStatus, renderStatus } = await import('../orchestrator/status.js');
        const { scheduledSwitchovers, renderSwitchovers } =
          await import('../orchestrator/switchover-status.js');
        const status = upgradeStatus(journal);
        const switchovers = await scheduledSwitchovers(deployment).finally(() =>
          deployment.close(),
        );
        process.stdout.write(
          o.json
            ? JSON.stringify({ ...status, switchovers }) + '\n'
            : renderStatus(status) + renderSwitchovers(switchovers),
        );
      }),
    );

  cmd
    .command('report')
    .description('print the report of a run (terminal, JSON, or where the HTML page is)')
    .addOption(inventory)
    .addOption(workDir)
    .option('--json', 'print JSON')
    .action(
      run(async (o: Common) => {
        const { journal } = await open(o);
        const { buildReport, renderText } = await import('../orchestrator/report.js');
        const r = buildReport(journal, workDirOf(o));
        process.stdout.write(
          o.json
            ? JSON.stringify(r) + '\n'
            : renderText(r) + `HTML report: ${path.join(workDirOf(o), 'report.html')}\n`,
        );
      }),
    );
  return cmd;
}
