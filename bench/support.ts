/**
 * What every benchmark shares: server processes that are always stopped, a load generator with
 * per-request latencies, and the figure | Gatehouse | anchor | ratio table.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import path from 'node:path';
import { ApplianceClient } from '../src/clients/admin-client.js';
import { GATEHOUSE_BIN } from '../src/lab/processes.js';
import { until } from '../src/shared/until.js';

/** Things to undo, undone in reverse order even when the benchmark fails or is interrupted. */
export class Cleanup {
  private readonly steps: (() => Promise<unknown> | unknown)[] = [];

  add(step: () => Promise<unknown> | unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step();
      } catch (e) {
        console.error(`cleanup: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  /** Run `body`, then clean up; on SIGINT or SIGTERM, clean up and exit 130. */
  async around<T>(body: (cleanup: Cleanup) => Promise<T>): Promise<T> {
    const onSignal = () => void this.run().finally(() => process.exit(130));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      return await body(this);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await this.run();
    }
  }
}

/**
 * A server started as its own process group (a server may run workers of its own, as
 * `gatehouse appliance start` does); keeps the last lines of its output to explain a failure.
 */
export class ServerProcess {
  readonly child: ChildProcess;
  private readonly tail: string[] = [];
  private readonly exited: Promise<void>;
  running = true;

  constructor(
    readonly label: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      detached: true,
    });
    const keep = (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line) continue;
        this.tail.push(line);
        if (this.tail.length > 20) this.tail.shift();
      }
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', () => {
        this.running = false;
        resolve();
      }),
    );
  }

  get lastOutput(): string {
    return this.tail.join('\n');
  }

  /**
   * SIGTERM to the server (which stops its own workers), then wait until every process of its
   * group has exited; SIGKILL the group if that takes longer than `timeoutMs`.
   */
  async stop(timeoutMs = 15_000): Promise<void> {
    const pgid = this.child.pid;
    if (pgid === undefined || !groupAlive(pgid)) return;
    if (this.running) this.child.kill('SIGTERM');
    try {
      await until(() => !this.running && !groupAlive(pgid), timeoutMs, `${this.label} to exit`);
    } catch {
      killGroup(pgid);
      await until(() => !groupAlive(pgid), 5_000, `${this.label} to exit after SIGKILL`);
    }
    await this.exited;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface LoadSpec {
  origin: string;
  certPem: string;
  method: 'GET' | 'PATCH';
  path: string;
  headers: Record<string, string>;
  /** A fresh body per request (so that each write changes something). */
  body?: () => string;
  expectStatus: number;
  connections: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Closed-loop load on one server: `connections` workers, each on its own keep-alive connection
 * (pipelining 1), send the next request as soon as the last is answered.
 */
export class LoadGenerator {
  private readonly pool: Pool;
  private readonly latencies: number[] = [];
  private measuredMs = 0;

  constructor(private readonly spec: LoadSpec) {
    this.pool = new Pool(spec.origin, {
      connections: spec.connections,
      pipelining: 1,
      connect: { ca: spec.certPem },
    });
  }

  /** Load for `ms`; latencies of the requests started in that time are kept if `measure`. */
  async run(ms: number, measure: boolean): Promise<void> {
    const { spec } = this;
    const end = performance.now() + ms;
    let unexpected: string | undefined;
    const worker = async () => {
      for (let t0 = performance.now(); t0 < end && !unexpected; t0 = performance.now()) {
        const res = await this.pool.request({
          method: spec.method,
          path: spec.path,
          headers: spec.headers,
          body: spec.body?.(),
        });
        const text = await res.body.text();
        if (res.statusCode !== spec.expectStatus)
          unexpected = `${spec.method} ${spec.path} answered ${res.statusCode}: ${text.slice(0, 300)}`;
        if (measure) this.latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: spec.connections }, worker));
    if (unexpected) throw new Error(unexpected);
    if (measure) this.measuredMs += ms;
  }

  result(): LoadResult {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const seconds = this.measuredMs / 1000;
    return {
      requests: sorted.length,
      seconds,
      requestsPerSecond: sorted.length / seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.at(-1) ?? NaN,
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * The same load on two servers, measured in alternating slices (after a warm-up of each, which
 * also opens the connections and their TLS sessions) so that whatever else the machine does
 * weighs on both alike.
 */
export async function compareLoad<K extends string>(
  specs: Record<K, LoadSpec>,
  timing: { warmupMs: number; rounds: number; roundMs: number },
): Promise<Record<K, LoadResult>> {
  const keys = Object.keys(specs) as K[];
  const generators = keys.map((k) => new LoadGenerator(specs[k]));
  try {
    for (const g of generators) await g.run(timing.warmupMs, false);
    for (let round = 0; round < timing.rounds; round++)
      for (const g of generators) await g.run(timing.roundMs, true);
    return Object.fromEntries(keys.map((k, i) => [k, generators[i]!.result()])) as Record<
      K,
      LoadResult
    >;
  } finally {
    await Promise.all(generators.map((g) => g.close()));
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export interface Figure {
  figure: string;
  unit: 'ms' | 'req/s' | 'MB/s' | 'KiB' | '%' | 'CPU-s';
  gatehouse: number;
  anchor: number;
  /** The goal for this figure and whether this run met it, e.g. "≥ 0.9×: NOT met". */
  goal?: string;
}

const format = (value: number, unit: Figure['unit']) =>
  unit === 'req/s' || unit === 'MB/s'
    ? `${Math.round(value)} ${unit}`
    : unit === '%'
      ? `${value.toFixed(2)} %`
      : `${value >= 100 ? Math.round(value) : value.toFixed(unit === 'ms' && value < 1 ? 2 : 1)} ${unit}`;

/** The figures as a Markdown table, ratio = Gatehouse / anchor; a goal column if any has one. */
export function figureTable(figures: Figure[]): string {
  const goals = figures.some((f) => f.goal !== undefined);
  const rows = [
    ['figure', 'Gatehouse', 'anchor', 'ratio', ...(goals ? ['goal'] : [])],
    ...figures.map((f) => [
      f.figure,
      format(f.gatehouse, f.unit),
      format(f.anchor, f.unit),
      f.anchor > 0 ? `${(f.gatehouse / f.anchor).toFixed(2)}×` : '—',
      ...(goals ? [f.goal ?? ''] : []),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

export function machine() {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage1m: os.loadavg()[0] ?? NaN,
  };
}

export function writeResults(file: string, results: unknown): void {
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
}

/** CPU seconds: busy time of the whole machine, and of this process with its reaped children. */
export interface CpuSnapshot {
  machineBusy: number;
  ownTree: number;
}

/** Linux clock ticks per second (USER_HZ), as in /proc. */
const TICKS = 100;

/** The fields of /proc/PID/stat after the command name (the state is field 0). */
export function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Null where /proc is not there (not Linux). */
export function cpuSnapshot(): CpuSnapshot | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
    // cpu user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const busy = [1, 2, 3, 6, 7, 8].reduce((sum, i) => sum + (cpu[i] ?? 0), 0);
    const fields = statFields('self')!.map(Number);
    // utime stime cutime cstime: fields 14-17 of /proc/self/stat, 11-14 after the state field.
    const own = [11, 12, 13, 14].reduce((sum, i) => sum + (fields[i] ?? 0), 0);
    return { machineBusy: busy / TICKS, ownTree: own / TICKS };
  } catch {
    return null;
  }
}

/** This process's process group (the one its children without a group of their own are in). */
export const ownProcessGroup = (): number => Number(statFields('self')?.[2]);

/**
 * User + system CPU seconds used so far by every process of the process groups `pgids`, with
 * the children they reaped (a process that ends is counted in its parent once reaped);
 * `exceptSelf` leaves out this process's own time, not its children's.
 */
export function groupsCpuSeconds(pgids: number[], exceptSelf = false): number {
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (!f || !pgids.includes(Number(f[2]))) continue;
    // utime stime cutime cstime: fields 14-17 of /proc/PID/stat, 11-14 after the state.
    const own = Number(f[11]) + Number(f[12]);
    ticks += (exceptSelf && Number(d) === process.pid ? 0 : own) + Number(f[13]) + Number(f[14]);
  }
  return ticks / TICKS;
}

/**
 * CPU seconds other processes used between two snapshots: the benchmark's own tree is counted
 * once its children have exited and been reaped, so take `after` when every server is stopped.
 */
export function otherProcessesCpu(before: CpuSnapshot | null, after: CpuSnapshot | null) {
  if (!before || !after) return null;
  const machine = after.machineBusy - before.machineBusy;
  return { machineBusySeconds: machine, otherSeconds: machine - (after.ownTree - before.ownTree) };
}

/**
 * `gatehouse appliance start` on host:port (its data dir initialised), with an HTTPS client
 * trusting its certificate; resolves once /health answers ready. Both stop at cleanup.
 */
export async function startBenchAppliance(
  cleanup: Cleanup,
  o: {
    what: string;
    dataDir: string;
    host: string;
    port: number;
    timeoutMs: number;
    pollMs: number;
  },
): Promise<{ proc: ServerProcess; client: ApplianceClient }> {
  const proc = new ServerProcess(o.what, [
    GATEHOUSE_BIN,
    'appliance',
    'start',
    '--data-dir',
    o.dataDir,
    '--listen',
    `${o.host}:${o.port}`,
    '--log-level',
    'warn',
  ]);
  cleanup.add(() => proc.stop());
  const client = new ApplianceClient(
    `https://${o.host}:${o.port}`,
    { certPem: readFileSync(path.join(o.dataDir, 'tls', 'cert.pem'), 'utf8') },
    { connections: 2 },
  );
  cleanup.add(() => client.close());
  await until(
    async () => {
      if (!proc.running) throw new Error(`${o.what} exited:\n${proc.lastOutput}`);
      const h = await client.call<{ ready: boolean }>('GET', '/health');
      return h.status === 200 && h.body.ready;
    },
    o.timeoutMs,
    `${o.what} to be healthy`,
    o.pollMs,
  );
  return { proc, client };
}

/** Sectors written to every disk so far (/proc/diskstats), or null where there is none. */
function sectorsWritten(): number | null {
  try {
    return readFileSync('/proc/diskstats', 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => /^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|nvme\d+n\d+)$/.test(f[2]!))
      .reduce((n, f) => n + Number(f[9]), 0);
  } catch {
    return null;
  }
}

/**
 * Flush what is waiting to be written and wait until the disks have written nothing for a
 * second (at most 60 s): a timed copy must not pay for the write-back of the one before it.
 */
export async function settleDisks(): Promise<void> {
  spawnSync('sync');
  const deadline = performance.now() + 60_000;
  let last = sectorsWritten();
  let quiet = 0;
  while (last !== null && quiet < 4 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const now = sectorsWritten();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}
