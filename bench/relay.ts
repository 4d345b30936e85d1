/**
 * `npm run bench -- relay`: sessions relayed by one appliance on loopback (console → appliance
 * → Jump Client → target), beside direct TCP to the same target and `ssh -L` through a
 * throwaway sshd (Debian's OpenSSH), measured in the same run:
 * (a) bulk throughput of BENCH_RELAY_BYTES (1 GiB) into a sink, median of BENCH_RELAY_ROUNDS, each
 *     transfer once the last session's recording is stored and the disks are quiet;
 * (b) round trips of 64 B through an echo target (BENCH_RELAY_PINGS, 2,000);
 * (c) BENCH_RELAY_IDLE (10,000) idle sessions: RSS growth and CPU of the appliance's worker
 *     process over BENCH_RELAY_IDLE_SECONDS (30), and one GET /metrics beside GET /health while
 *     they are open, beside a bare Node TLS server piping as many
 *     connection pairs as the open-file limit allows, up to the same number
 *     (bench/relay-anchor.ts).
 * The target (bench/relay-target.ts) and the Jump Client (`gatehouse jump-client`) are processes
 * of their own; the console runs in the benchmark process.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { RepresentativeConsole } from '../src/clients/console.js';
import {
  GATEHOUSE_BIN,
  freePort,
  initApplianceProcess,
  startApplianceProcess,
  type ApplianceProcess,
} from '../src/lab/processes.js';
import { DataDir } from '../src/appliance/data-paths.js';
import { until } from '../src/shared/until.js';
import { startSshd } from './sshd.js';
import {
  Cleanup,
  ServerProcess,
  cpuSnapshot,
  figureTable,
  machine,
  median,
  otherProcessesCpu,
  statFields,
  percentile,
  settleDisks,
  writeResults,
  type Figure,
} from './support.js';
import { scrapeBesideHealth, scraper } from './metrics-cost.js';

const HOST = '127.0.0.1';
const BYTES = Number(process.env.BENCH_RELAY_BYTES ?? 1024 ** 3);
const ROUNDS = Number(process.env.BENCH_RELAY_ROUNDS ?? 3);
const PINGS = Number(process.env.BENCH_RELAY_PINGS ?? 2_000);
const IDLE = Number(process.env.BENCH_RELAY_IDLE ?? 10_000);
const IDLE_SECONDS = Number(process.env.BENCH_RELAY_IDLE_SECONDS ?? 30);
const PING_SIZE = 64;
const OPEN_CONCURRENCY = 64;
const WARMUP_SESSIONS = 20;
const NOFILE = 262_144;
/** Descriptors besides the sessions' sockets (database, logs, listeners, pipes). */
const FD_MARGIN = 200;
const LOGIN_PASSWORD = 'Site-Operator-Pw-2';
const ADMIN_PASSWORD = 'Gatekeeper-Pass-1';
const SCRAPES = 15;
const JUMP = 'bench-jump';
const TARGET_SCRIPT = fileURLToPath(new URL('./relay-target.js', import.meta.url));
const ANCHOR_SCRIPT = fileURLToPath(new URL('./relay-anchor.js', import.meta.url));
const RESULTS_FILE = fileURLToPath(new URL('./results-relay.json', import.meta.url));

const progress = (line: string) => console.error(`[bench relay] ${line}`);
const since = (t0: number) => performance.now() - t0;

/** Raise this process's open-file limit (children inherit it); false when not allowed. */
function raiseFileLimit(): boolean {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${NOFILE}:${NOFILE}`], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

/** Resident memory of a process, KiB. */
function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

/** User + system CPU seconds of a process. */
function cpuSeconds(pid: number): number {
  const f = statFields(pid)!;
  // utime and stime are fields 14 and 15 of /proc/PID/stat, 11 and 12 after the state.
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The appliance's worker: the child the supervisor forked (`appliance run`). */
function workerOf(supervisorPid: number): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(statFields(Number(d))?.[1]);
      if (ppid === supervisorPid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('run'))
        return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** Wait for `pattern` in a server's output. */
const outputMatch = (proc: ServerProcess, pattern: RegExp, what: string) =>
  until(
    () => {
      if (!proc.running) throw new Error(`${proc.label} exited:\n${proc.lastOutput}`);
      return pattern.exec(proc.lastOutput);
    },
    15_000,
    what,
  );

interface Setup {
  root: string;
  /** Processes on the session's way besides this one (for their CPU time). */
  pids: { worker: number; jumpClient: number; target: number };
  dataDir: string;
  port: number;
  appliance: ApplianceProcess;
  rep: RepresentativeConsole;
  echo: string;
  sink: string;
}

async function startSite(cleanup: Cleanup, root: string): Promise<Setup> {
  const dataDir = path.join(root, 'appliance');
  await initApplianceProcess({
    dataDir,
    name: 'relay-bench',
    host: HOST,
    adminPassword: ADMIN_PASSWORD,
    loginPassword: LOGIN_PASSWORD,
  });
  const port = await freePort(HOST);
  const appliance = await startAppliance(cleanup, dataDir, port);
  const target = new ServerProcess('relay target', [TARGET_SCRIPT]);
  cleanup.add(() => target.stop());
  const ports = await outputMatch(target, /echo=(\d+) sink=(\d+)/, 'the target to listen');
  const echo = `${HOST}:${ports[1]}`;
  const sink = `${HOST}:${ports[2]}`;

  const api = appliance.client();
  await api.signIn('login', 'admin', LOGIN_PASSWORD);
  const token = (
    await api.call<{ token: string }>('POST', '/api/login/jump-clients/tokens', {
      json: { uses: 1, name: JUMP },
    })
  ).body.token;
  await api.close();
  const jump = new ServerProcess(
    'gatehouse jump-client',
    [
      GATEHOUSE_BIN,
      'jump-client',
      '--site',
      `${HOST}:${port}`,
      '--fingerprint',
      appliance.fingerprint,
      '--name',
      JUMP,
      '--allow',
      echo,
      '--allow',
      sink,
      '--identity',
      path.join(root, 'jump-client.json'),
    ],
    { ...process.env, GATEHOUSE_JUMP_CLIENT_TOKEN: token },
  );
  cleanup.add(() => jump.stop());
  const site = { host: HOST, port, fingerprint: appliance.fingerprint };
  const rep = await RepresentativeConsole.signIn(site, 'admin', LOGIN_PASSWORD);
  cleanup.add(() => rep.close());
  await jumpClientConnected(rep);
  const worker = await until(() => workerOf(appliance.child.pid!), 5_000, 'the worker');
  const pids = { worker, jumpClient: jump.child.pid!, target: target.child.pid! };
  return { root, pids, dataDir, port, appliance, rep, echo, sink };
}

async function startAppliance(cleanup: Cleanup, dataDir: string, port: number) {
  const appliance = await startApplianceProcess(dataDir, { host: HOST, port, logLevel: 'warn' });
  cleanup.add(() => appliance.kill());
  return appliance;
}

const jumpClientConnected = (rep: RepresentativeConsole) =>
  until(
    async () => (await rep.jumpClients()).some((j) => j.name === JUMP),
    60_000,
    'the Jump Client to connect',
    100,
  );

/** Three ways to the same target: a session, direct TCP, and ssh -L. */
type Path = 'gatehouse' | 'direct' | 'ssh';
type Opener = (target: 'echo' | 'sink') => Promise<Duplex>;

function connectTcp(hostPort: string): Promise<net.Socket> {
  const i = hostPort.lastIndexOf(':');
  const socket = net.connect({
    host: hostPort.slice(0, i),
    port: Number(hostPort.slice(i + 1)),
    noDelay: true,
  });
  return once(socket, 'connect').then(() => socket);
}

/** `ssh -N -L` forwarding a local port to each target through the throwaway sshd. */
async function startSshForward(
  cleanup: Cleanup,
  root: string,
  setup: Setup,
): Promise<Record<'echo' | 'sink', string>> {
  const ssh = (await startSshd(path.join(root, 'ssh'), cleanup)).split(' ');
  const local = { echo: await freePort(HOST), sink: await freePort(HOST) };
  const child = spawn(
    ssh[0]!,
    [
      ...ssh.slice(1),
      '-N',
      '-o',
      'ExitOnForwardFailure=yes',
      '-L',
      `${HOST}:${local.echo}:${setup.echo}`,
      '-L',
      `${HOST}:${local.sink}:${setup.sink}`,
      HOST,
    ],
    { stdio: 'ignore' },
  );
  cleanup.add(() => child.kill('SIGTERM'));
  const forwarded = { echo: `${HOST}:${local.echo}`, sink: `${HOST}:${local.sink}` };
  await until(
    async () => {
      const s = await connectTcp(forwarded.sink);
      s.destroy();
      return true;
    },
    15_000,
    'ssh -L to listen',
    100,
  );
  return forwarded;
}

/** Until the appliance has no live session (each round's recording is finished before the next). */
async function noLiveSessions(rep: RepresentativeConsole): Promise<void> {
  await until(
    async () => (await rep.jumpClients()).find((j) => j.name === JUMP)?.sessions === 0,
    60_000,
    'the sessions to end',
    50,
  );
}

/** Write a length and `bytes` bytes to a sink; milliseconds until it says it has them all. */
async function bulk(socket: Duplex, bytes: number, block: Buffer): Promise<number> {
  const ack = new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the sink had every byte')));
  });
  const t0 = performance.now();
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(bytes));
  socket.write(head);
  for (let left = bytes; left > 0; left -= block.length) {
    const chunk = left >= block.length ? block : block.subarray(0, left);
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  await ack;
  const ms = since(t0);
  socket.removeAllListeners('close');
  socket.destroy();
  return ms;
}

/** Round trips of PING_SIZE bytes through an echo, one at a time; milliseconds each. */
async function pingPong(socket: Duplex, count: number, into: number[]): Promise<void> {
  const message = randomBytes(PING_SIZE);
  let got = 0;
  let back: (() => void) | undefined;
  const onData = (c: Buffer) => {
    got += c.length;
    if (got >= PING_SIZE) {
      got -= PING_SIZE;
      back?.();
    }
  };
  socket.on('data', onData);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      back = resolve;
      socket.write(message);
    });
    into.push(since(t0));
  }
  socket.off('data', onData);
}

/** Open `n` connections (64 at a time), with progress. */
async function openMany<T>(n: number, what: string, open: () => Promise<T>): Promise<T[]> {
  const opened: T[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(n, OPEN_CONCURRENCY) }, async () => {
      while (next < n) {
        next++;
        opened.push(await open());
        if (opened.length % 2_000 === 0)
          progress(`${what}: ${opened.length} of ${n} (${(since(t0) / 1000).toFixed(0)} s)`);
      }
    }),
  );
  return opened;
}

interface IdleFigures {
  sessions: number;
  /** One GET /metrics and one GET /health with the sessions open: medians of SCRAPES. */
  scrapeMs?: number;
  healthMs?: number;
  baselineKiB: number;
  openKiB: number;
  afterWindowKiB: number;
  perSessionKiB: number;
  cpuSeconds: number;
  windowSeconds: number;
  openSeconds: number;
}

/** RSS and CPU of `pid` holding what `open` opened, over the idle window. */
async function idleWindow<T>(
  pid: number,
  n: number,
  what: string,
  open: () => Promise<T>,
): Promise<{ figures: IdleFigures; held: T[] }> {
  const baselineKiB = rssKiB(pid);
  const t0 = performance.now();
  const held = await openMany(n, what, open);
  const openSeconds = since(t0) / 1000;
  const openKiB = rssKiB(pid);
  const cpu0 = cpuSeconds(pid);
  const w0 = performance.now();
  progress(`${what}: ${n} open in ${openSeconds.toFixed(1)} s; idle for ${IDLE_SECONDS} s`);
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const cpu = cpuSeconds(pid) - cpu0;
  const windowSeconds = since(w0) / 1000;
  const afterWindowKiB = rssKiB(pid);
  return {
    held,
    figures: {
      sessions: n,
      baselineKiB,
      openKiB,
      afterWindowKiB,
      perSessionKiB: (afterWindowKiB - baselineKiB) / n,
      cpuSeconds: cpu,
      windowSeconds,
      openSeconds,
    },
  };
}

/** Idle sessions on a freshly started appliance (its worker's memory not yet grown by traffic). */
async function idleSessions(cleanup: Cleanup, setup: Setup, n: number): Promise<IdleFigures> {
  await setup.appliance.stop();
  setup.appliance = await startAppliance(cleanup, setup.dataDir, setup.port);
  await jumpClientConnected(setup.rep);
  const worker = await until(() => workerOf(setup.appliance.child.pid!), 5_000, 'the worker');
  // Every code path of a session runs once before the baseline.
  const warm = await openMany(WARMUP_SESSIONS, 'warm-up sessions', () =>
    setup.rep.openSession(JUMP, setup.echo),
  );
  for (const s of warm) s.socket.destroy();
  await noLiveSessions(setup.rep);
  const { figures, held } = await idleWindow(worker, n, 'idle sessions', async () => {
    const { socket } = await setup.rep.openSession(JUMP, setup.echo);
    socket.on('error', () => undefined);
    return socket;
  });
  const live = (await setup.rep.jumpClients()).find((j) => j.name === JUMP)?.sessions;
  if (live !== n) throw new Error(`${live} sessions live on the appliance, ${n} opened`);
  // The issue's scrape figure: each session is a row of the gateway's maps a scrape walks.
  const api = setup.appliance.client();
  try {
    await api.signIn('appliance', 'admin', ADMIN_PASSWORD);
    Object.assign(figures, await scrapeBesideHealth(api, await scraper(api), SCRAPES));
  } finally {
    await api.close();
  }
  for (const s of held) s.destroy();
  // Ending 10,000 recorded sessions is not what is measured here: the power-cut stop.
  await setup.appliance.kill();
  return figures;
}

/** The same number of connection pairs held by a bare Node TLS server. */
async function idleAnchor(cleanup: Cleanup, dataDir: string, n: number): Promise<IdleFigures> {
  const port = await freePort(HOST);
  const anchor = new ServerProcess('bare TLS relay', [ANCHOR_SCRIPT], {
    ...process.env,
    ANCHOR_LISTEN: `${HOST}:${port}`,
    ANCHOR_TLS_KEY: path.join(dataDir, 'tls', 'key.pem'),
    ANCHOR_TLS_CERT: path.join(dataDir, 'tls', 'cert.pem'),
  });
  cleanup.add(() => anchor.stop());
  await outputMatch(anchor, /listening/, 'the anchor to listen');
  const connect = async () => {
    const s = tls.connect({ host: HOST, port, rejectUnauthorized: false });
    s.on('error', () => undefined);
    await once(s, 'secureConnect');
    return s;
  };
  const pair = async () => [await connect(), await connect()];
  for (const s of (await openMany(WARMUP_SESSIONS, 'warm-up pairs', pair)).flat()) s.destroy();
  const pid = anchor.child.pid!;
  const { figures, held } = await idleWindow(pid, n, 'anchor pairs', pair);
  for (const s of held.flat()) s.destroy();
  await anchor.stop();
  return figures;
}

export async function runRelayBenchmark(): Promise<void> {
  execFileSync('bash', [path.join(import.meta.dirname, '../../scripts/install-bench-deps.sh')], {
    stdio: 'inherit',
  });
  const raised = raiseFileLimit();
  // An idle session's legs are streams of the console's and the Jump Client's one relay
  // connection each: it takes one socket in the Jump Client (to the target) and one in the
  // target, none in the worker. The anchor's pairs take two sockets each, in this process and in
  // the anchor. Raising the limit needs CAP_SYS_RESOURCE beyond the hard limit.
  const idle = Math.min(IDLE, openFileLimit() - FD_MARGIN);
  const anchorPairs = Math.min(IDLE, Math.floor((openFileLimit() - FD_MARGIN) / 2));
  if (idle < IDLE || anchorPairs < IDLE)
    progress(
      `open-file limit ${openFileLimit()} (raised: ${raised}): ${idle} idle sessions, ${anchorPairs} anchor pairs`,
    );

  await new Cleanup().around(async (cleanup) => {
    const loadAverageBefore = os.loadavg()[0] ?? NaN;
    const cpuBefore = cpuSnapshot();
    const startedAt = performance.now();
    const root = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-relay-'));
    cleanup.add(() => rmSync(root, { recursive: true, force: true }));
    progress(`appliance, target, Jump Client and console in ${root}`);
    const setup = await startSite(cleanup, root);
    const forwarded = await startSshForward(cleanup, root, setup);
    const open: Record<Path, Opener> = {
      gatehouse: async (t) =>
        (await setup.rep.openSession(JUMP, t === 'echo' ? setup.echo : setup.sink)).socket,
      direct: (t) => connectTcp(t === 'echo' ? setup.echo : setup.sink),
      ssh: (t) => connectTcp(forwarded[t]),
    };
    const paths = Object.keys(open) as Path[];

    // (a) bulk throughput, the three paths in turn each round.
    const block = randomBytes(1024 * 1024);
    const bulkMs: Record<Path, number[]> = { gatehouse: [], direct: [], ssh: [] };
    const roles = { ...setup.pids, console: process.pid };
    const bulkCpu = Object.fromEntries(Object.keys(roles).map((k) => [k, 0]));
    // Each transfer starts with nothing left to write back of the one before (the last
    // session's recording made durable and taken into the blob store): a session's throughput,
    // not that of the backlog of the sessions before it.
    const recordingsDone = () =>
      until(
        () => readdirSync(new DataDir(setup.dataDir).activeRecordings).length === 0,
        120_000,
        'the recording of the last session to be stored',
        50,
      );
    for (let round = 0; round < ROUNDS; round++)
      for (const p of paths) {
        await recordingsDone();
        await settleDisks();
        const socket = await open[p]('sink');
        const cpu0 = Object.values(roles).map(cpuSeconds);
        const ms = await bulk(socket, BYTES, block);
        if (p === 'gatehouse')
          Object.values(roles).forEach((pid, i) => {
            bulkCpu[Object.keys(roles)[i]!]! += cpuSeconds(pid) - cpu0[i]!;
          });
        bulkMs[p].push(ms);
        progress(`bulk round ${round + 1}, ${p}: ${((BYTES / ms) * 1e-3).toFixed(0)} MB/s`);
        if (p === 'gatehouse') await noLiveSessions(setup.rep);
      }
    const mbps = (p: Path) => (BYTES / median(bulkMs[p])) * 1e-3;

    // (b) latency: one connection per path, warmed up, then measured in four alternating blocks.
    const rtt: Record<Path, number[]> = { gatehouse: [], direct: [], ssh: [] };
    const echoes = Object.fromEntries(
      await Promise.all(paths.map(async (p) => [p, await open[p]('echo')] as const)),
    ) as Record<Path, Duplex>;
    for (const p of paths) await pingPong(echoes[p], 100, []);
    for (let block = 0; block < 4; block++)
      for (const p of paths) await pingPong(echoes[p], PINGS / 4, rtt[p]);
    for (const p of paths) echoes[p].destroy();
    const sorted = (p: Path) => [...rtt[p]].sort((a, b) => a - b);
    const p50 = (p: Path) => percentile(sorted(p), 50);
    const p99 = (p: Path) => percentile(sorted(p), 99);
    progress(`round trips: p50 ${paths.map((p) => `${p} ${p50(p).toFixed(3)} ms`).join(', ')}`);

    // (c) idle sessions, then the anchor's idle pairs.
    const idleGatehouse = await idleSessions(cleanup, setup, idle);
    const idleBare = await idleAnchor(cleanup, setup.dataDir, anchorPairs);

    const added = p50('gatehouse') - p50('direct');
    const cpuPercent = (f: IdleFigures) => (100 * f.cpuSeconds) / f.windowSeconds;
    const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
    const bulkFigure = (anchor: 'direct' | 'ssh', goal: number): Figure => ({
      figure: `bulk throughput, ${BYTES} B (median of ${ROUNDS}), anchor ${anchor === 'ssh' ? 'ssh -L' : 'direct TCP'}`,
      unit: 'MB/s',
      gatehouse: mbps('gatehouse'),
      anchor: mbps(anchor),
      goal: `≥ ${goal}×: ${met(mbps('gatehouse') / mbps(anchor) >= goal)}`,
    });
    const figures: Figure[] = [
      bulkFigure('direct', 0.9),
      bulkFigure('ssh', 1.5),
      {
        figure: `round trip ${PING_SIZE} B p50 (${PINGS}), anchor direct TCP`,
        unit: 'ms',
        gatehouse: p50('gatehouse'),
        anchor: p50('direct'),
        goal: `added < 1 ms: ${met(added < 1)} (+${added.toFixed(2)} ms)`,
      },
      {
        figure: `round trip ${PING_SIZE} B p99, anchor direct TCP`,
        unit: 'ms',
        gatehouse: p99('gatehouse'),
        anchor: p99('direct'),
      },
      {
        figure: `round trip ${PING_SIZE} B p50, anchor ssh -L`,
        unit: 'ms',
        gatehouse: p50('gatehouse'),
        anchor: p50('ssh'),
      },
      {
        figure: `round trip ${PING_SIZE} B p99, anchor ssh -L`,
        unit: 'ms',
        gatehouse: p99('gatehouse'),
        anchor: p99('ssh'),
      },
      {
        figure: `RSS per idle session (${idle}), anchor bare Node TLS pipe (${anchorPairs} pairs)`,
        unit: 'KiB',
        gatehouse: idleGatehouse.perSessionKiB,
        anchor: idleBare.perSessionKiB,
        goal: `< 20 KiB: ${met(idleGatehouse.perSessionKiB < 20)}`,
      },
      {
        figure: `CPU of ${idle} idle sessions (% of a core, ${IDLE_SECONDS} s)`,
        unit: '%',
        gatehouse: cpuPercent(idleGatehouse),
        anchor: cpuPercent(idleBare),
      },
      {
        figure: `one scrape of GET /metrics with ${idle} idle sessions (anchor: GET /health), median of ${SCRAPES}`,
        unit: 'ms',
        gatehouse: idleGatehouse.scrapeMs!,
        anchor: idleGatehouse.healthMs!,
      },
    ];

    await cleanup.run();
    const seconds = since(startedAt) / 1000;
    const others = otherProcessesCpu(cpuBefore, cpuSnapshot());
    const env = { ...machine(), loadAverage1mBefore: loadAverageBefore, seconds };
    console.log(
      `\nRelay: node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}); load average ${loadAverageBefore.toFixed(2)} before, ${env.loadAverage1m.toFixed(2)} after`,
    );
    if (others)
      console.log(
        `Other processes used ${others.otherSeconds.toFixed(1)} CPU-seconds during the ${seconds.toFixed(0)} s run (${((100 * others.otherSeconds) / (seconds * env.cpus)).toFixed(0)}% of the machine)`,
      );
    const kib = (f: IdleFigures) =>
      `${Math.round(f.baselineKiB / 1024)} → ${Math.round(f.openKiB / 1024)} → ${Math.round(f.afterWindowKiB / 1024)} MiB`;
    console.log(
      `Worker RSS before / with ${idle} sessions open / after ${IDLE_SECONDS} s idle: ${kib(idleGatehouse)} (opened in ${idleGatehouse.openSeconds.toFixed(1)} s); anchor (${anchorPairs} pairs) ${kib(idleBare)}`,
    );
    const gib = (ROUNDS * BYTES) / 1024 ** 3;
    console.log(
      `CPU-seconds per GiB through a session: ${Object.entries(bulkCpu)
        .map(([k, v]) => `${k} ${(v / gib).toFixed(2)}`)
        .join(', ')}`,
    );
    console.log(
      `Bulk MB/s per round: ${paths.map((p) => `${p} ${bulkMs[p].map((ms) => ((BYTES / ms) * 1e-3).toFixed(0)).join('/')}`).join('; ')}; ratio = Gatehouse / anchor\n`,
    );
    console.log(figureTable(figures));
    writeResults(RESULTS_FILE, {
      benchmark: 'relay',
      date: new Date().toISOString(),
      machine: { ...env, otherProcessesCpuSeconds: others?.otherSeconds ?? null },
      parameters: {
        bytes: BYTES,
        rounds: ROUNDS,
        pings: PINGS,
        idle,
        anchorPairs,
        idleSeconds: IDLE_SECONDS,
      },
      figures: figures.map((f) => ({ ...f, ratio: f.gatehouse / f.anchor })),
      bulkMs,
      bulkCpuSecondsPerGiB: Object.fromEntries(
        Object.entries(bulkCpu).map(([k, v]) => [k, v / gib]),
      ),
      latency: Object.fromEntries(paths.map((p) => [p, { p50: p50(p), p99: p99(p) }])),
      idle: { gatehouse: idleGatehouse, anchor: idleBare },
    });
    progress(`results written to ${RESULTS_FILE}`);
  });
}
