/**
 * The paths to the target the relay benchmark compares, and the bulk and round-trip runs over
 * them: each path's throughput and the CPU of the process that relays it.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { DataDir } from '../src/appliance/data-paths.js';
import { until } from '../src/shared/until.js';
import { cpuSeconds, treeCpuSeconds } from './relay-proc.js';
import { noLiveSessions, progress, type Opener, type Setup } from './relay-site.js';
import { bulk, pingPong } from './relay-traffic.js';
import { cpuSnapshot, percentile, settleDisks } from './support.js';

/**
 * A session, the bare Node TLS pipe, the bare pipe that also records (`recorded`), direct TCP,
 * and ssh -L.
 */
export type Path = 'gatehouse' | 'bare' | 'recorded' | 'direct' | 'ssh';
const PING_SIZE = 64;

/** CPU seconds so far of one process (or process tree) on a path's way. */
type CpuReader = () => number;

/**
 * Each path's way: the process that relays it (none for direct TCP) and every process the
 * bytes pass through, by role, the relaying process first, this process (the console) last.
 */
export interface PathWay {
  relay: CpuReader;
  chain: Record<string, CpuReader>;
}

/** The console's CPU: this whole process, user + system, from process.cpuUsage. */
const consoleCpu: CpuReader = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

export function pathCpu(
  setup: Setup,
  bare: { pid: number; jumpPid: number },
  recorded: { pid: number; jumpPid: number },
  ssh: { sshd: number; client: number },
): Record<Path, PathWay> {
  const target = () => cpuSeconds(setup.pids.target);
  const pipe = (p: { pid: number; jumpPid: number }): PathWay => ({
    relay: () => cpuSeconds(p.pid),
    chain: {
      pipe: () => cpuSeconds(p.pid),
      'bare Jump Client': () => cpuSeconds(p.jumpPid),
      target,
      console: consoleCpu,
    },
  });
  // setup.pids.worker is read at each call: it changes when the appliance is started again.
  const worker = () => cpuSeconds(setup.pids.worker);
  const sshd = () => treeCpuSeconds(ssh.sshd);
  return {
    gatehouse: {
      relay: worker,
      chain: {
        worker,
        'Jump Client': () => cpuSeconds(setup.pids.jumpClient),
        target,
        console: consoleCpu,
      },
    },
    bare: pipe(bare),
    recorded: pipe(recorded),
    direct: { relay: () => 0, chain: { target, console: consoleCpu } },
    ssh: {
      relay: sshd,
      chain: { sshd, 'ssh client': () => cpuSeconds(ssh.client), target, console: consoleCpu },
    },
  };
}

/**
 * What bounds a path's bulk throughput when every process of its way shares the machine's
 * cores: the CPU of each per GiB, the machine's busy share of its cores over the transfers
 * (/proc/stat, every process, the suite beside the benchmark included), and the throughput the
 * chain's CPU allows at that busy share: cores × busy × 1 GiB / the chain's CPU-s per GiB.
 */
export interface ChainFigures {
  /** CPU seconds per GiB of each process on the way, by role. */
  cpuPerGiB: Record<string, number>;
  totalCpuPerGiB: number;
  cores: number;
  /** Busy share of all cores during the transfers, 0–1. */
  busy: number;
  /** The chain's share of the machine's busy CPU during the transfers, 0–1. */
  chainShareOfBusy: number;
  ceilingMBps: number;
  /** Every round's bytes over every round's time. */
  measuredMBps: number;
}

export interface BulkResult {
  bytes: number;
  ms: Partial<Record<Path, number[]>>;
  /** CPU seconds per GiB of the relaying process of each path. */
  relayCpuPerGiB: Partial<Record<Path, number>>;
  /** CPU seconds per GiB of every process on a session's way. */
  sessionCpuPerGiB: Record<string, number>;
  /** Each path's whole way: what its chain of processes allows on this machine's cores. */
  chain: Partial<Record<Path, ChainFigures>>;
}

/**
 * `rounds` bulk transfers of `bytes` over each path in turn. Each starts with nothing left to
 * write back of the one before (the last session's recording made durable and taken into the
 * blob store): a session's cost, not that of the backlog of the sessions before it.
 */
export async function bulkRounds(
  setup: Setup,
  open: Partial<Record<Path, Opener>>,
  ways: Record<Path, PathWay>,
  bytes: number,
  rounds: number,
  /** Where the recording anchor writes (each file removed once durable). */
  anchorRecordings?: string,
): Promise<BulkResult> {
  const block = randomBytes(1024 * 1024);
  const paths = Object.keys(open) as Path[];
  const ms: BulkResult['ms'] = {};
  const relayCpu: Partial<Record<Path, number>> = {};
  const roles = { ...setup.pids, console: process.pid };
  const sessionCpu: Record<string, number> = {};
  const chainCpu: Partial<Record<Path, Record<string, number>>> = {};
  const machine: Partial<Record<Path, { busy: number; wall: number }>> = {};
  const recordingsDone = () =>
    until(
      () =>
        readdirSync(new DataDir(setup.dataDir).activeRecordings).length === 0 &&
        (!anchorRecordings || readdirSync(anchorRecordings).length === 0),
      120_000,
      'the recording of the last session to be stored',
      50,
    );
  for (let round = 0; round < rounds; round++)
    for (const p of paths) {
      await recordingsDone();
      await settleDisks();
      const socket: Duplex = await open[p]!('sink');
      const chain = Object.entries(ways[p].chain);
      const relay0 = ways[p].relay();
      const role0 = Object.values(roles).map(cpuSeconds);
      const chain0 = chain.map(([, read]) => read());
      const busy0 = cpuSnapshot()?.machineBusy ?? NaN;
      const wall0 = performance.now();
      const took = await bulk(socket, bytes, block);
      const wall = (performance.now() - wall0) / 1000;
      const busy = (cpuSnapshot()?.machineBusy ?? NaN) - busy0;
      const chainNow = chain.map(([, read]) => read());
      relayCpu[p] = (relayCpu[p] ?? 0) + ways[p].relay() - relay0;
      const c = (chainCpu[p] ??= {});
      chain.forEach(([role], i) => (c[role] = (c[role] ?? 0) + chainNow[i]! - chain0[i]!));
      const m = (machine[p] ??= { busy: 0, wall: 0 });
      m.busy += busy;
      m.wall += wall;
      if (p === 'gatehouse')
        Object.values(roles).forEach((pid, i) => {
          const role = Object.keys(roles)[i]!;
          sessionCpu[role] = (sessionCpu[role] ?? 0) + cpuSeconds(pid) - role0[i]!;
        });
      (ms[p] ??= []).push(took);
      progress(`bulk round ${round + 1}, ${p}: ${((bytes / took) * 1e-3).toFixed(0)} MB/s`);
      if (p === 'gatehouse') await noLiveSessions(setup.rep);
    }
  const gib = (rounds * bytes) / 1024 ** 3;
  const perGiB = <K extends string>(cpu: Partial<Record<K, number>>) =>
    Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, (v as number) / gib]));
  return {
    bytes,
    ms,
    relayCpuPerGiB: perGiB(relayCpu),
    sessionCpuPerGiB: perGiB(sessionCpu),
    chain: Object.fromEntries(
      (Object.keys(chainCpu) as Path[]).map((p) => {
        const cpuPerGiB = perGiB(chainCpu[p]!);
        const totalCpuPerGiB = Object.values(cpuPerGiB).reduce((a, b) => a + b, 0);
        const cores = os.availableParallelism();
        const { busy: busySeconds, wall } = machine[p]!;
        const busy = busySeconds / (wall * cores);
        const chainSeconds = Object.values(chainCpu[p]!).reduce((a, b) => a + b, 0);
        const figures: ChainFigures = {
          cpuPerGiB,
          totalCpuPerGiB,
          cores,
          busy,
          chainShareOfBusy: chainSeconds / busySeconds,
          ceilingMBps: (cores * busy * 1024 ** 3) / totalCpuPerGiB / 1e6,
          measuredMBps: (rounds * bytes) / wall / 1e6,
        };
        return [p, figures];
      }),
    ),
  };
}

export type RoundTrips = Record<Exclude<Path, 'recorded'>, { p50: number; p99: number }>;

/**
 * Round trips of 64 B, one connection per path (not the recording anchor's), warmed up, then
 * four alternating blocks.
 */
export async function roundTrips(
  open: Record<Exclude<Path, 'recorded'>, Opener> & { recorded?: unknown },
  pings: number,
): Promise<RoundTrips> {
  const paths = (Object.keys(open) as Path[]).filter(
    (p): p is Exclude<Path, 'recorded'> => p !== 'recorded',
  );
  const echoes = new Map<Exclude<Path, 'recorded'>, Duplex>();
  for (const p of paths) echoes.set(p, await open[p]('echo'));
  const rtt = new Map<Exclude<Path, 'recorded'>, number[]>(paths.map((p) => [p, []]));
  for (const p of paths) await pingPong(echoes.get(p)!, 100, [], PING_SIZE);
  for (let block = 0; block < 4; block++)
    for (const p of paths) await pingPong(echoes.get(p)!, pings / 4, rtt.get(p)!, PING_SIZE);
  for (const s of echoes.values()) s.destroy();
  const result = {} as RoundTrips;
  for (const p of paths) {
    const sorted = rtt.get(p)!.sort((a, b) => a - b);
    result[p] = { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  }
  progress(
    `round trips p50: ${paths.map((p) => `${p} ${result[p].p50.toFixed(3)} ms`).join(', ')}`,
  );
  return result;
}
