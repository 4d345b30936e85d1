/**
 * `npm run bench -- resume`: sessions that survive the appliance under them (issue 17), on real
 * appliance processes on loopback (consoles and Jump Clients in this process), measured in the
 * same run:
 * (a) throughput of BENCH_RESUME_BYTES (256 MiB) console → target through a resumable leg,
 *     beside the same copy through a leg as the previous release opened it (no resumption),
 *     alternated, median of BENCH_RESUME_ROUNDS (3);
 * (b) per cause, BENCH_RESUME_RUNS (5; the figures use 20) times: an interactive session
 *     (1 KiB echoed every 50 ms) through the event, its pause (longest wait for an echo) beside
 *     the anchor, a session restarted as without resumption (from the moment the leg broke until
 *     a new session through the site echoes); echoes lost and sessions dropped. Causes
 *     (BENCH_RESUME_CAUSES, default all): kill (the lone appliance SIGKILLed and started again),
 *     install (a product package installed on it), failover (Become Backup of a pair behind a
 *     shared address, each run the other way) and drain (the traffic node relaying it stops
 *     accepting; its clients and sessions move to the other node of the region).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import type { Endpoint } from '../src/clients/tunnel.js';
import { startTargets } from '../src/lab/targets.js';
import { until } from '../src/shared/until.js';
import {
  becomeBackup,
  drain,
  install,
  kill,
  measureRun,
  type CauseName,
  type CauseRun,
  type SessionClients,
} from './resume-causes.js';
import {
  enrolmentToken,
  LOGIN_PASSWORD,
  startBenchAppliance,
  startCluster,
  startPair,
  type BenchAppliance,
} from './resume-deployments.js';
import { buildPackages } from './resume-packages.js';
import { Cleanup, figureTable, machine, median, writeResults, type Figure } from './support.js';

const HOST = '127.0.0.1';
const BYTES = Number(process.env.BENCH_RESUME_BYTES ?? 256 * 1024 * 1024);
const ROUNDS = Number(process.env.BENCH_RESUME_ROUNDS ?? 3);
const RUNS = Number(process.env.BENCH_RESUME_RUNS ?? 5);
const CAUSES: CauseName[] = ['kill', 'install', 'failover', 'drain'];
const KEY = 'bench-resume-inter-appliance-key-0123456789';
const RESULTS_FILE = fileURLToPath(new URL('./results-resume.json', import.meta.url));
const progress = (line: string) => console.error(`[bench resume] ${line}`);

function causesFromEnv(): CauseName[] {
  const raw = process.env.BENCH_RESUME_CAUSES;
  if (!raw) return CAUSES;
  const list = raw.split(',').map((s) => s.trim()) as CauseName[];
  const bad = list.filter((c) => !CAUSES.includes(c));
  if (bad.length || !list.length)
    throw new Error(`BENCH_RESUME_CAUSES="${raw}": a comma-separated list of ${CAUSES.join(', ')}`);
  return list;
}

/** A target that swallows what each connection sends and ends when it ends. */
async function startSink(cleanup: Cleanup): Promise<string> {
  const server = net.createServer((s) => {
    s.on('error', () => s.destroy());
    s.resume();
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  cleanup.add(() => new Promise((r) => server.close(r)));
  return `${HOST}:${(server.address() as net.AddressInfo).port}`;
}

/** MB/s of one copy of BYTES console → sink, ended once the sink closed its side. */
async function copy(rep: RepresentativeConsole, sink: string): Promise<number> {
  const { socket } = await rep.openSession('bench-jump', sink);
  const chunk = Buffer.alloc(256 * 1024, 7);
  const t0 = performance.now();
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.resume();
  for (let sent = 0; sent < BYTES; sent += chunk.length)
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  socket.end();
  await closed;
  return BYTES / 1e6 / ((performance.now() - t0) / 1000);
}

/** A Jump Client allowing `allow`, a resumable console and a previous-release one, on `site`. */
async function clientsOn(
  cleanup: Cleanup,
  site: Endpoint,
  t: BenchAppliance,
  allow: string[],
  region?: string,
): Promise<SessionClients> {
  const jump = new JumpClient({
    site,
    name: 'bench-jump',
    group: 'bench',
    token: await enrolmentToken(t),
    allow,
    ...(region ? { region } : {}),
  });
  jump.start();
  cleanup.add(() => jump.stop());
  const [rep, plain] = await Promise.all([
    RepresentativeConsole.signIn(site, 'admin', LOGIN_PASSWORD, region),
    RepresentativeConsole.signIn(site, 'admin', LOGIN_PASSWORD, region),
  ]);
  cleanup.add(() => rep.close());
  cleanup.add(() => plain.close());
  plain.offerResume = false;
  await until(() => jump.state === 'connected', 30_000, 'the Jump Client');
  return { rep, plain, jump, echo: allow[0]! };
}

async function repeat(
  name: CauseName,
  runs: CauseRun[],
  run: (i: number) => Promise<CauseRun>,
): Promise<void> {
  for (let i = 0; i < RUNS; i++) {
    runs.push(await run(i));
    const r = runs.at(-1)!;
    progress(
      `${name} ${i + 1}/${RUNS}: pause ${r.pauseMs} ms, restart ${r.restartMs.toFixed(0)} ms`,
    );
  }
}

/** Throughput, kill and install on a lone appliance. */
async function lone(root: string, echo: string, causes: CauseName[], out: Results): Promise<void> {
  await new Cleanup().around(async (cleanup) => {
    const packages = causes.includes('install')
      ? await buildPackages(path.join(root, 'packages'), RUNS)
      : undefined;
    const site = await startBenchAppliance(cleanup, root, {
      name: 'bench-resume',
      host: HOST,
      key: KEY,
      releasePub: packages?.releasePub,
    });
    const sink = await startSink(cleanup);
    const c = await clientsOn(cleanup, site.endpoint, site, [echo, sink]);
    for (let i = 0; i < ROUNDS; i++)
      for (const offer of [true, false]) {
        c.rep.offerResume = offer;
        const mbs = await copy(c.rep, sink);
        (offer ? out.throughput.resumable : out.throughput.plain).push(mbs);
        progress(
          `copy ${i + 1}/${ROUNDS} ${offer ? 'resumable' : 'previous'}: ${mbs.toFixed(0)} MB/s`,
        );
      }
    c.rep.offerResume = true;
    if (causes.includes('kill'))
      await repeat('kill', out.runs.kill, () => measureRun(c, kill(site)));
    if (packages)
      await repeat('install', out.runs.install, (i) =>
        measureRun(c, install(site, packages.files[i]!, packages.versions[i]!)),
      );
  });
}

/** failover: Become Backup on whichever of the pair is primary, each run the other way. */
async function pair(root: string, echo: string, out: Results): Promise<void> {
  await new Cleanup().around(async (cleanup) => {
    const { a, b, site } = await startPair(cleanup, root, {
      a: '127.0.0.211',
      b: '127.0.0.212',
      shared: '127.0.0.210',
      key: KEY,
    });
    const c = await clientsOn(cleanup, site, a, [echo]);
    await repeat('failover', out.runs.failover, (i) =>
      measureRun(c, i % 2 ? becomeBackup(b, c.jump, a) : becomeBackup(a, c.jump, b)),
    );
  });
}

/** drain: the node relaying the session drained, then accepting again (the next run drains the other). */
async function cluster(root: string, echo: string, out: Results): Promise<void> {
  await new Cleanup().around(async (cleanup) => {
    const { primary } = await startCluster(cleanup, root, {
      primary: '127.0.0.221',
      nodes: ['127.0.0.222', '127.0.0.223'],
      key: KEY,
    });
    const c = await clientsOn(cleanup, primary.endpoint, primary, [echo], 'east');
    await repeat('drain', out.runs.drain, () => measureRun(c, drain(primary, c.jump)));
  });
}

interface Results {
  throughput: { resumable: number[]; plain: number[] };
  runs: Record<CauseName, CauseRun[]>;
}

function figures(out: Results): Figure[] {
  const f: Figure[] = [];
  const { resumable, plain } = out.throughput;
  if (resumable.length)
    f.push({
      figure: `throughput of a resumable leg (anchor: a leg without resumption), ${BYTES / 1048576} MiB`,
      unit: 'MB/s',
      gatehouse: median(resumable),
      anchor: median(plain),
      goal: `≥ 0.95×: ${median(resumable) >= 0.95 * median(plain) ? 'met' : 'NOT met'}`,
    });
  for (const [cause, runs] of Object.entries(out.runs)) {
    if (!runs.length) continue;
    const pauses = runs.map((r) => r.pauseMs);
    const restarts = runs.map((r) => r.restartMs);
    const lost = runs.reduce((n, r) => n + r.lost, 0);
    const dropped = runs.filter((r) => r.dropped).length;
    const goal = `lost ${lost}, dropped ${dropped} of ${runs.length} (goal 0)`;
    f.push(
      {
        figure: `${cause}: pause, median of ${runs.length} (anchor: restart of a session)`,
        unit: 'ms',
        gatehouse: median(pauses),
        anchor: median(restarts),
        goal,
      },
      {
        figure: `${cause}: pause, max of ${runs.length} (anchor: longest restart)`,
        unit: 'ms',
        gatehouse: Math.max(...pauses),
        anchor: Math.max(...restarts),
      },
    );
  }
  return f;
}

export async function runResumeBenchmark(): Promise<void> {
  const causes = causesFromEnv();
  const root = mkdtempSync(path.join(os.tmpdir(), 'gh-bench-resume-'));
  const out: Results = {
    throughput: { resumable: [], plain: [] },
    runs: { kill: [], install: [], failover: [], drain: [] },
  };
  const targets = await startTargets(HOST);
  try {
    await lone(root, targets.echo, causes, out);
    if (causes.includes('failover')) await pair(root, targets.echo, out);
    if (causes.includes('drain')) await cluster(root, targets.echo, out);
    const table = figures(out);
    console.log(figureTable(table));
    writeResults(RESULTS_FILE, {
      date: new Date().toISOString(),
      machine: machine(),
      runs: RUNS,
      figures: table,
      detail: out,
    });
  } finally {
    await targets.close();
    rmSync(root, { recursive: true, force: true });
  }
}
