/**
 * The paths to the target the relay benchmark compares, and the bulk and round-trip runs over
 * them: each path's throughput and the CPU of the process that relays it.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { DataDir } from '../src/appliance/data-paths.js';
import { until } from '../src/shared/until.js';
import { cpuSeconds, treeCpuSeconds } from './relay-proc.js';
import { noLiveSessions, progress, type Opener, type Setup } from './relay-site.js';
import { bulk, pingPong } from './relay-traffic.js';
import { percentile, settleDisks } from './support.js';

/**
 * A session, the bare Node TLS pipe, the bare pipe that also records (`recorded`), direct TCP,
 * and ssh -L.
 */
export type Path = 'gatehouse' | 'bare' | 'recorded' | 'direct' | 'ssh';
const PING_SIZE = 64;

/** CPU seconds so far of the process relaying each path (none for direct TCP). */
export function pathCpu(
  setup: Setup,
  bare: number,
  recorded: number,
  sshd: number,
): Record<Path, () => number> {
  return {
    gatehouse: () => cpuSeconds(setup.pids.worker),
    bare: () => cpuSeconds(bare),
    recorded: () => cpuSeconds(recorded),
    direct: () => 0,
    ssh: () => treeCpuSeconds(sshd),
  };
}

export interface BulkResult {
  bytes: number;
  ms: Partial<Record<Path, number[]>>;
  /** CPU seconds per GiB of the relaying process of each path. */
  relayCpuPerGiB: Partial<Record<Path, number>>;
  /** CPU seconds per GiB of every process on a session's way. */
  sessionCpuPerGiB: Record<string, number>;
}

/**
 * `rounds` bulk transfers of `bytes` over each path in turn. Each starts with nothing left to
 * write back of the one before (the last session's recording made durable and taken into the
 * blob store): a session's cost, not that of the backlog of the sessions before it.
 */
export async function bulkRounds(
  setup: Setup,
  open: Partial<Record<Path, Opener>>,
  cpuOf: Record<Path, () => number>,
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
      const relay0 = cpuOf[p]();
      const role0 = Object.values(roles).map(cpuSeconds);
      const took = await bulk(socket, bytes, block);
      relayCpu[p] = (relayCpu[p] ?? 0) + cpuOf[p]() - relay0;
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
