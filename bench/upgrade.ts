/**
 * `npm run bench -- upgrade`: a whole deployment upgraded by the orchestrator in a lab, per
 * strategy (client-visible downtime, sessions dropped, new sessions failed, duration of the
 * work), then the cluster runbook on 4, 8 and 16 traffic nodes. Anchor, measured in the same
 * run: one plain install + restart of a single standalone appliance (the downtime a standalone
 * upgrade causes).
 *
 * BENCH_UPGRADE_STRATEGIES (default synchronous,asynchronous,cluster) and BENCH_UPGRADE_NODES
 * (default 4,8,16) shorten a run. The cluster strategy's row is the run with the fewest nodes.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { labDown } from '../src/lab/lifecycle.js';
import { parseLabOptions } from '../src/lab/plan.js';
import { GATEHOUSE_BIN, freePort, initApplianceProcess } from '../src/lab/processes.js';
import { labUp } from '../src/lab/up.js';
import type { UpgradeReport } from '../src/orchestrator/report.js';
import { generateEd25519, keyId, loadPrivateKey, loadPublicKey } from '../src/shared/crypto.js';
import { until } from '../src/shared/until.js';
import { CODE_ROOT, PRODUCT_VERSION } from '../src/shared/version.js';
import { buildPackage } from '../src/updates/package.js';
import {
  Cleanup,
  startBenchAppliance,
  cpuSnapshot,
  figureTable,
  machine,
  otherProcessesCpu,
  writeResults,
  type Figure,
} from './support.js';

type Strategy = 'synchronous' | 'asynchronous' | 'cluster';
const STRATEGIES: Strategy[] = ['synchronous', 'asynchronous', 'cluster'];
const HOST = '127.0.0.1';
const ADMIN = 'Bench-Keeper-Pass-1';
const LOGIN = 'Bench-Login-Pass-2';
const REGIONS = 2;
const NEXT_VERSION = PRODUCT_VERSION.replace(/(\d+)$/, (n) => String(Number(n) + 1));
const GOAL_ASYNC_DOWNTIME_MS = 500;
const KEEPALIVED_MS = 3_000;
const RESULTS_FILE = fileURLToPath(new URL('./results-upgrade.json', import.meta.url));

const progress = (line: string) => console.error(`[bench upgrade] ${line}`);

function listFromEnv<T extends string>(name: string, fallback: T[], allowed?: readonly T[]): T[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as T[];
  const bad = allowed ? items.filter((i) => !allowed.includes(i)) : [];
  if (bad.length || items.length === 0)
    throw new Error(`${name}="${raw}": expected a comma-separated list of ${allowed?.join(', ')}`);
  return items;
}

function nodeCounts(): number[] {
  const counts = listFromEnv('BENCH_UPGRADE_NODES', ['4', '8', '16']).map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < REGIONS))
    throw new Error(
      `BENCH_UPGRADE_NODES: whole numbers of at least ${REGIONS} (${REGIONS} regions)`,
    );
  return [...new Set(counts)].sort((a, b) => a - b);
}

/** A product package of the next patch version built from this code tree, signed with `keyPem`. */
async function nextPackage(keyPem: string, pubPem: string, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `product-${NEXT_VERSION}.ghpkg`);
  const tmpDir = path.join(dir, '.build');
  try {
    await buildPackage({
      kind: 'product',
      version: NEXT_VERSION,
      from: CODE_ROOT,
      out,
      signers: [{ key: loadPrivateKey(keyPem), keyId: keyId(loadPublicKey(pubPem)) }],
      tmpDir,
    });
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
  return out;
}

/**
 * The anchor: one plain install + restart of a standalone appliance, from the install request
 * until /health answers ready on the new version with the update committed.
 */
async function standaloneInstallMs(cleanup: Cleanup, root: string): Promise<number> {
  const pair = generateEd25519();
  const pubFile = path.join(root, 'anchor-release.pub');
  writeFileSync(pubFile, pair.publicKeyPem);
  const pkg = await nextPackage(pair.privateKeyPem, pair.publicKeyPem, path.join(root, 'anchor'));
  const dataDir = path.join(root, 'anchor', 'appliance');
  await initApplianceProcess({
    dataDir,
    name: 'bench-anchor',
    adminPassword: ADMIN,
    loginPassword: LOGIN,
    releaseKeyFiles: [pubFile],
  });
  const port = await freePort(HOST);
  const { proc, client } = await startBenchAppliance(cleanup, {
    what: 'the anchor appliance',
    dataDir,
    host: HOST,
    port,
    timeoutMs: 30_000,
    pollMs: 10,
  });
  type Health = { productVersion: string; ready: boolean; update: string | null };
  await client.signIn('appliance', 'admin', ADMIN);
  const up = await client.call<{ id: string }>('POST', '/api/appliance/updates/upload', {
    raw: readFileSync(pkg),
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (up.status !== 201) throw new Error(`anchor upload refused: ${JSON.stringify(up.body)}`);
  const t0 = performance.now();
  const res = await client.call('POST', `/api/appliance/updates/staged/${up.body.id}/install`, {
    json: {},
  });
  if (res.status !== 202) throw new Error(`anchor install refused: ${JSON.stringify(res.body)}`);
  await until(
    async () => {
      const h = (await client.call<Health>('GET', '/health')).body;
      return h.productVersion === NEXT_VERSION && h.ready && h.update === null;
    },
    120_000,
    'the anchor install to be committed',
    10,
  );
  const ms = performance.now() - t0;
  await proc.stop();
  return ms;
}

/** `gatehouse upgrade …` as its own process; throws with its output unless it exits 0. */
function upgradeCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GATEHOUSE_BIN, 'upgrade', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    // With --json the last line is the whole report: keep what explains a failure.
    const why = () =>
      out
        .split('\n')
        .filter((l) => !l.startsWith('{') || l.includes('"status":"failed"'))
        .map((l) => l.slice(0, 800))
        .join('\n')
        .slice(-4000);
    child.on('exit', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`gatehouse upgrade ${args[0]} exited ${code}:\n${why()}`)),
    );
  });
}

interface UpgradeRun {
  strategy: Strategy;
  topology: string;
  trafficNodes: number;
  downtimeMs: number;
  predictedDowntimeMs: number;
  predictedWorkMs: number;
  outages: number;
  sessions: { newStarted: number; newFailed: number; longOpened: number; dropped: number };
  /** The work: report duration without the interim pause between `run` and `continue`. */
  workMs: number;
  interimMs: number;
  labUpMs: number;
  steps: { id: string; title: string; ms: number }[];
  /** The first failures of the orchestrator's live sessions, to explain them. */
  failures: { t: number; what: string; error: string }[];
}

/** Bring up a lab, upgrade it with the orchestrator, read report.json; the lab always goes down. */
async function upgradeLab(
  root: string,
  strategy: Strategy,
  trafficNodes: number,
): Promise<UpgradeRun> {
  const topology = strategy === 'cluster' ? 'cluster-failover' : 'pair';
  const dir = path.join(root, `lab-${strategy}-${trafficNodes}`);
  const options = parseLabOptions({
    topology,
    ...(strategy === 'cluster'
      ? { trafficNodes: String(trafficNodes), regions: String(REGIONS) }
      : {}),
    switch: 'shared-ip',
    // The agent's long sessions never end, so a traffic node holding one never drains and the
    // runbook waits out its drain deadline; the orchestrator's own load has sessions of 2 s.
    ...(strategy === 'cluster' ? { longSessions: '0' } : {}),
  });
  const t0 = performance.now();
  try {
    const lab = await labUp(dir, options, (l) => progress(`  lab: ${l}`));
    const labUpMs = performance.now() - t0;
    const pkgDir = path.join(dir, 'bench-packages');
    await nextPackage(
      readFileSync(path.join(dir, lab.releaseKey.privateKey), 'utf8'),
      readFileSync(path.join(dir, lab.releaseKey.publicKey), 'utf8'),
      pkgDir,
    );
    const workDir = path.join(dir, 'bench-upgrade');
    const common = ['--inventory', path.join(dir, lab.inventory), '--work-dir', workDir];
    progress(
      `${strategy}, ${topology}${trafficNodes ? ` ${trafficNodes} nodes` : ''}: upgrade run`,
    );
    await upgradeCli(['run', ...common, '--strategy', strategy, '--packages', pkgDir, '--json']);
    const journal = readFileSync(path.join(workDir, 'journal.ndjson'), 'utf8');
    if (journal.includes('"type":"paused"')) {
      progress(`${strategy}: upgrade continue (no interim period)`);
      await upgradeCli(['continue', ...common, '--json']);
    }
    const report = JSON.parse(
      readFileSync(path.join(workDir, 'report.json'), 'utf8'),
    ) as UpgradeReport;
    if (report.outcome !== 'finished') throw new Error(`${strategy}: outcome ${report.outcome}`);
    const entries = readFileSync(path.join(workDir, 'journal.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; at: string });
    const pausedAt = entries.find((e) => e.type === 'paused')?.at;
    const continuedAt = entries.find((e) => e.type === 'continued')?.at;
    const interimMs = pausedAt && continuedAt ? Date.parse(continuedAt) - Date.parse(pausedAt) : 0;
    const s = report.sessions ?? { newStarted: 0, newFailed: 0, longOpened: 0, dropped: 0 };
    return {
      strategy,
      topology,
      trafficNodes,
      downtimeMs: report.downtime.totalMs,
      predictedDowntimeMs: report.predicted.siteDowntimeMs,
      predictedWorkMs: report.predicted.totalMs,
      outages: report.downtime.outages.length,
      sessions: {
        newStarted: s.newStarted,
        newFailed: s.newFailed,
        longOpened: s.longOpened,
        dropped: s.dropped,
      },
      workMs: report.durationMs - interimMs,
      interimMs,
      labUpMs,
      steps: report.steps
        .filter((x) => x.start !== undefined && x.end !== undefined)
        .map((x) => ({ id: x.id, title: x.title, ms: x.end! - x.start! })),
      failures: report.sessions?.failures.slice(0, 10) ?? [],
    };
  } finally {
    progress(`lab down (${dir})`);
    await labDown(dir, { purge: !process.env.BENCH_UPGRADE_KEEP }).catch((e: unknown) =>
      progress(`lab down: ${(e as Error).message}`),
    );
  }
}

const goal = (met: boolean, what: string) => `${what}: ${met ? 'met' : 'NOT met'}`;

export async function runUpgradeBenchmark(): Promise<void> {
  const strategies = listFromEnv<Strategy>('BENCH_UPGRADE_STRATEGIES', STRATEGIES, STRATEGIES);
  const counts = nodeCounts();
  await new Cleanup().around(async (cleanup) => {
    const cpuBefore = cpuSnapshot();
    const loadBefore = machine().loadAverage1m;
    const root = mkdtempSync(path.join(os.tmpdir(), 'gh-bench-upgrade-'));
    if (!process.env.BENCH_UPGRADE_KEEP)
      cleanup.add(() => rmSync(root, { recursive: true, force: true }));

    progress('anchor: plain install + restart of one standalone appliance');
    const anchorMs = await standaloneInstallMs(cleanup, root);
    progress(`anchor: ${anchorMs.toFixed(0)} ms`);

    const runs: UpgradeRun[] = [];
    for (const strategy of strategies.filter((s) => s !== 'cluster'))
      runs.push(await upgradeLab(root, strategy, 0));
    const clusterRuns: UpgradeRun[] = [];
    const wantCluster = strategies.includes('cluster');
    for (const n of wantCluster || process.env.BENCH_UPGRADE_NODES ? counts : []) {
      const r = await upgradeLab(root, 'cluster', n);
      progress(`cluster ${n} nodes: ${r.workMs} ms of work`);
      clusterRuns.push(r);
    }
    if (wantCluster && clusterRuns[0]) runs.push(clusterRuns[0]);

    const label = (r: UpgradeRun) =>
      r.strategy === 'cluster' ? `cluster (${r.trafficNodes} nodes, failover)` : r.strategy;
    const figures: Figure[] = [];
    for (const r of runs) {
      figures.push({
        figure: `${label(r)}: client-visible downtime (anchor: standalone install+restart)`,
        unit: 'ms',
        gatehouse: r.downtimeMs,
        anchor: anchorMs,
        goal:
          r.strategy === 'asynchronous'
            ? goal(r.downtimeMs < GOAL_ASYNC_DOWNTIME_MS, `< ${GOAL_ASYNC_DOWNTIME_MS} ms`)
            : undefined,
      });
      figures.push({
        figure: `${label(r)}: client-visible downtime (anchor: the plan's prediction)`,
        unit: 'ms',
        gatehouse: r.downtimeMs,
        anchor: r.predictedDowntimeMs,
      });
      figures.push({
        figure: `${label(r)}: duration of the work (anchor: standalone install+restart)`,
        unit: 'ms',
        gatehouse: r.workMs,
        anchor: anchorMs,
      });
    }
    const first = clusterRuns[0];
    for (const r of clusterRuns)
      figures.push({
        figure: `cluster upgrade, ${r.trafficNodes} traffic nodes (anchor: standalone install+restart)`,
        unit: 'ms',
        gatehouse: r.workMs,
        anchor: anchorMs,
      });

    console.log(
      `\nUpgrade — anchor: one plain install + restart of a standalone appliance, measured in this run (${anchorMs.toFixed(0)} ms); keepalived's ~${KEEPALIVED_MS / 1000} s failover is a quoted reference, not measured`,
    );
    console.log(figureTable(figures));

    console.log('\nSessions during each upgrade (the orchestrator’s live load through the site)');
    const rows = [
      ['strategy', 'new failed / started', 'long dropped / opened', 'goal'],
      ...runs.map((r) => [
        label(r),
        `${r.sessions.newFailed} / ${r.sessions.newStarted}`,
        `${r.sessions.dropped} / ${r.sessions.longOpened}`,
        r.strategy === 'cluster' ? goal(r.sessions.newFailed === 0, '0 new failed') : '',
      ]),
    ];
    for (const row of rows) console.log(`| ${row.join(' | ')} |`);
    for (const r of runs)
      for (const f of r.failures.slice(0, 3))
        console.log(
          `${label(r)}: ${new Date(f.t).toISOString().slice(11, 23)} ${f.what}: ${f.error.slice(0, 200)}`,
        );
    for (const r of runs)
      if (r.interimMs)
        console.log(
          `${label(r)}: interim pause between run and continue ${r.interimMs} ms (excluded from the duration)`,
        );

    let growth: { nodes: number; time: number; met: boolean } | undefined;
    const last = clusterRuns.at(-1);
    if (first && last && last !== first) {
      const nodes = last.trafficNodes / first.trafficNodes;
      const time = last.workMs / first.workMs;
      // "Far slower than the node count": less than half of the node-count growth.
      growth = { nodes, time, met: time - 1 < (nodes - 1) / 2 };
      console.log(
        `\nCluster scaling: ${clusterRuns.map((r) => `${r.trafficNodes} nodes ${(r.workMs / 1000).toFixed(1)} s`).join(', ')}; time(${last.trafficNodes})/time(${first.trafficNodes}) = ${time.toFixed(2)}× for ${nodes}× the nodes — ${goal(growth.met, 'growth far slower than the node count')}`,
      );
    }

    const others = otherProcessesCpu(cpuBefore, cpuSnapshot());
    const env = { ...machine(), loadAverage1mBefore: loadBefore };
    console.log(
      `\nMachine: node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}); load average ${loadBefore.toFixed(2)} before, ${env.loadAverage1m.toFixed(2)} after; other processes used ${others ? others.otherSeconds.toFixed(0) : '?'} CPU-s of ${others ? others.machineBusySeconds.toFixed(0) : '?'} busy`,
    );
    writeResults(RESULTS_FILE, {
      when: new Date().toISOString(),
      machine: { ...env, otherProcessesCpuSeconds: others?.otherSeconds ?? null },
      anchorMs,
      figures: figures.map((f) => ({ ...f, ratio: f.gatehouse / f.anchor })),
      runs,
      clusterRuns,
      growth,
    });
  });
}
