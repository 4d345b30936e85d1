/**
 * `npm run bench -- relay`: what a session costs the appliance relaying it, against the floor of
 * its design measured in the same run. Console (this process) → appliance → Jump Client → target
 * (bench/relay-site.ts), beside the bare Node TLS pipe (bench/relay-anchor.ts: TLS in, TLS out,
 * nothing else, with a bare Jump Client), direct TCP and `ssh -L` through a throwaway sshd:
 * (a) bulk: BENCH_RELAY_BYTES (1 GiB) into a sink, BENCH_RELAY_ROUNDS (3) rounds of every path in
 *     turn: throughput (median) and the relaying process's CPU per GiB (utime + stime from /proc:
 *     the worker, the bare pipe, sshd with its children), each transfer on settled disks;
 * (b) round trips of 64 B through an echo (BENCH_RELAY_PINGS, 2,000);
 * (c) BENCH_RELAY_ACTIVE (1,000) interactive sessions, 200 B every 100 ms both ways for
 *     BENCH_RELAY_ACTIVE_SECONDS (60): round trips and the relaying process's CPU, through the
 *     appliance and the bare pipe; then BENCH_RELAY_ACTIVE_MORE (5,000; 0 skips) the same way;
 *     the load from BENCH_RELAY_GENERATORS (4) processes of its own;
 * (d) the bulk of (a) with recording off (the test-only hook of bench/no-recording.ts);
 * (e) BENCH_RELAY_IDLE (10,000) idle sessions for BENCH_RELAY_IDLE_SECONDS (30): RSS and CPU of
 *     the worker, one GET /metrics beside GET /health, beside the bare pipe's idle pairs.
 * BENCH_RELAY_PROFILE=DIR runs the appliance with --cpu-prof (profiles written to DIR when it
 * stops, after (a)–(c)). BENCH_RELAY_IDLE_NODE_ARGS (say `--perf-basic-prof-only-functions`)
 * gives the appliance of (e) these Node flags; the line that starts its idle window names the
 * worker's pid, for `perf record -g -p PID` over the window (docs/benchmarks.md, stop 22).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { activeSessions, type ActiveFigures, type ActiveLoad } from './relay-active.js';
import { bulkRounds, pathCpu, roundTrips, type Path } from './relay-paths.js';
import { idlePairs, idleSessions } from './relay-idle.js';
import { raiseFileLimit, openFileLimit } from './relay-proc.js';
import { relayFigures } from './relay-figures.js';
import {
  HOST,
  JUMP,
  LOGIN_PASSWORD,
  connectTcp,
  progress,
  restartAppliance,
  since,
  startBarePipe,
  startSite,
  startSshForward,
  type Opener,
} from './relay-site.js';
import {
  Cleanup,
  cpuSnapshot,
  figureTable,
  machine,
  otherProcessesCpu,
  writeResults,
} from './support.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const BYTES = env('BENCH_RELAY_BYTES', 1024 ** 3);
const ROUNDS = env('BENCH_RELAY_ROUNDS', 3);
const PINGS = env('BENCH_RELAY_PINGS', 2_000);
const IDLE = env('BENCH_RELAY_IDLE', 10_000);
const IDLE_SECONDS = env('BENCH_RELAY_IDLE_SECONDS', 30);
const ACTIVE = env('BENCH_RELAY_ACTIVE', 1_000);
const ACTIVE_MORE = env('BENCH_RELAY_ACTIVE_MORE', 5_000);
const ACTIVE_SECONDS = env('BENCH_RELAY_ACTIVE_SECONDS', 60);
const GENERATORS = env('BENCH_RELAY_GENERATORS', 4);
const PROFILE = process.env.BENCH_RELAY_PROFILE;
const IDLE_NODE_ARGS = (process.env.BENCH_RELAY_IDLE_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** Descriptors besides the sessions' sockets (database, logs, listeners, pipes). */
const FD_MARGIN = 200;
const NO_RECORDING = fileURLToPath(new URL('./no-recording.js', import.meta.url));
const RESULTS_FILE = fileURLToPath(new URL('./results-relay.json', import.meta.url));

const activeLoad = (sessions: number): ActiveLoad => ({
  sessions,
  seconds: ACTIVE_SECONDS,
  messageBytes: 200,
  intervalMs: 100,
});

export async function runRelayBenchmark(): Promise<void> {
  execFileSync('bash', [path.join(import.meta.dirname, '../../scripts/install-bench-deps.sh')], {
    stdio: 'inherit',
  });
  const raised = raiseFileLimit();
  // An idle session takes one socket in the Jump Client (to the target) and one in the target,
  // none in the worker (its legs are streams of two relay connections). The anchor's pairs
  // take two sockets each, in this process and in the anchor.
  const idle = Math.min(IDLE, openFileLimit() - FD_MARGIN);
  const anchorPairs = Math.min(IDLE, Math.floor((openFileLimit() - FD_MARGIN) / 2));
  if (idle < IDLE || anchorPairs < IDLE)
    progress(
      `open-file limit ${openFileLimit()} (raised: ${raised}): ${idle} idle sessions, ${anchorPairs} anchor pairs`,
    );

  await new Cleanup().around(async (cleanup) => {
    const loadBefore = os.loadavg();
    const cpuBefore = cpuSnapshot();
    const startedAt = performance.now();
    const root = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-relay-'));
    cleanup.add(() => rmSync(root, { recursive: true, force: true }));
    progress(
      `appliance, target, Jump Clients and console in ${root}; load ${loadBefore.join(' ')}`,
    );
    const profile = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [];
    const setup = await startSite(cleanup, root, profile);
    const ssh = await startSshForward(cleanup, setup);
    const bare = await startBarePipe(cleanup, setup);
    const anchorRecordings = path.join(root, 'anchor-recordings');
    const recordingPipe = await startBarePipe(cleanup, setup, anchorRecordings);
    const open: Record<Path, Opener> = {
      gatehouse: async (t) => (await setup.rep.openSession(JUMP, setup.targets[t])).socket,
      bare: bare.open,
      recorded: recordingPipe.open,
      direct: (t) => connectTcp(setup.targets[t]),
      ssh: (t) => connectTcp(ssh.forwarded[t]),
    };
    const ways = pathCpu(setup, bare, recordingPipe, ssh);

    const recorded = await bulkRounds(setup, open, ways, BYTES, ROUNDS, anchorRecordings);
    const rtt = await roundTrips({ ...open, recorded: undefined }, PINGS);
    const active: { gatehouse: ActiveFigures; bare: ActiveFigures }[] = [];
    for (const n of [ACTIVE, ACTIVE_MORE].filter((n) => n > 0)) {
      const gatehouse = await activeSessions(
        `${n} active sessions`,
        setup.pids.worker,
        { 'Jump Client': setup.pids.jumpClient, target: setup.pids.target },
        {
          kind: 'gatehouse',
          site: { host: HOST, port: setup.port, fingerprint: setup.appliance.fingerprint },
          username: 'admin',
          password: LOGIN_PASSWORD,
          jumpClient: JUMP,
          target: setup.targets.echo,
        },
        activeLoad(n),
        GENERATORS,
      );
      const pipe = await activeSessions(
        `${n} active pipe pairs`,
        bare.pid,
        { 'bare Jump Client': bare.jumpPid, target: setup.pids.target },
        { kind: 'bare', host: HOST, port: bare.port, servername: 'console.echo' },
        activeLoad(n),
        GENERATORS,
      );
      active.push({ gatehouse, bare: pipe });
    }

    // (d) the same bulk with recording off: the appliance started again with the test-only hook.
    await restartAppliance(cleanup, setup, [`--import=${NO_RECORDING}`]);
    const hooked = setup.appliance.output.filter((l) => l.includes('BENCHMARK HOOK')).length;
    if (hooked < 2) throw new Error('the no-recording hook did not load in the worker');
    const unrecorded = await bulkRounds(setup, { gatehouse: open.gatehouse }, ways, BYTES, ROUNDS);

    // (e) idle sessions on a freshly started appliance, then the anchor's idle pairs.
    await restartAppliance(cleanup, setup, IDLE_NODE_ARGS);
    const idleGatehouse = await idleSessions(setup, idle, IDLE_SECONDS);
    const idleBare = await idlePairs(bare, anchorPairs, IDLE_SECONDS);

    const loadAfter = os.loadavg();
    await cleanup.run();
    const seconds = since(startedAt) / 1000;
    const others = otherProcessesCpu(cpuBefore, cpuSnapshot());
    const m = { ...machine(), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter, seconds };
    const figures = relayFigures({
      bytes: BYTES,
      rounds: ROUNDS,
      pings: PINGS,
      recorded,
      unrecorded,
      rtt,
      active,
      idle: { gatehouse: idleGatehouse, bare: idleBare, seconds: IDLE_SECONDS },
    });
    console.log(
      `\nRelay: node ${m.node}, ${m.cpus} CPUs (${m.cpuModel}); load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after`,
    );
    if (others)
      console.log(
        `Other processes used ${others.otherSeconds.toFixed(1)} CPU-seconds during the ${seconds.toFixed(0)} s run (${((100 * others.otherSeconds) / (seconds * m.cpus)).toFixed(0)}% of the machine)`,
      );
    for (const line of figures.notes) console.log(line);
    console.log('ratio = Gatehouse / anchor\n');
    console.log(figureTable(figures.table));
    writeResults(RESULTS_FILE, {
      benchmark: 'relay',
      date: new Date().toISOString(),
      machine: { ...m, otherProcessesCpuSeconds: others?.otherSeconds ?? null },
      parameters: { bytes: BYTES, rounds: ROUNDS, pings: PINGS, idle, anchorPairs },
      figures: figures.table.map((f) => ({ ...f, ratio: f.gatehouse / f.anchor })),
      bulk: { recorded, unrecorded },
      rtt,
      active,
      idle: { gatehouse: idleGatehouse, anchor: idleBare },
    });
    progress(`results written to ${RESULTS_FILE}`);
  });
}
