/** The relay benchmark's figures, each beside its anchor, with the goals of issue 21. */
import type { ActiveFigures } from './relay-active.js';
import type { IdleFigures } from './relay-idle.js';
import type { BulkResult, Path, RoundTrips } from './relay-paths.js';
import { median, type Figure } from './support.js';

export interface RelayRun {
  bytes: number;
  rounds: number;
  pings: number;
  recorded: BulkResult;
  unrecorded: BulkResult;
  rtt: RoundTrips;
  active: { gatehouse: ActiveFigures; bare: ActiveFigures }[];
  idle: { gatehouse: IdleFigures; bare: IdleFigures; seconds: number };
}

const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
const NAME: Record<Path, string> = {
  gatehouse: 'Gatehouse',
  bare: 'bare Node TLS pipe',
  recorded: 'bare pipe + recording (hash, append)',
  direct: 'direct TCP',
  ssh: 'ssh -L',
};

/** Share of a session's ticks skipped because its message before had not come back. */
const latePercent = (f: ActiveFigures) => (100 * f.late) / (f.roundTrips + f.late);
/** Above 1 % skipped ticks the load, not the relay, sets the round trips: no goal is judged. */
const saturated = (f: ActiveFigures) => latePercent(f) > 1;

export function relayFigures(run: RelayRun): { table: Figure[]; notes: string[] } {
  const { recorded, unrecorded, rtt } = run;
  const mbps = (b: BulkResult, p: Path) => (b.bytes / median(b.ms[p] ?? [])) * 1e-3;
  const cpu = (b: BulkResult, p: Path) => b.relayCpuPerGiB[p] ?? NaN;
  const size = `${run.bytes} B × ${run.rounds}`;
  const table: Figure[] = [
    {
      figure: `CPU per GiB relayed, relaying process (${size}), anchor bare Node TLS pipe`,
      unit: 'CPU-s',
      gatehouse: cpu(recorded, 'gatehouse'),
      anchor: cpu(recorded, 'bare'),
      goal: `≤ 1.25×: ${met(cpu(recorded, 'gatehouse') <= 1.25 * cpu(recorded, 'bare'))}`,
    },
    {
      figure: `CPU per GiB relayed, relaying process, anchor ${NAME.recorded}: the floor with recording`,
      unit: 'CPU-s',
      gatehouse: cpu(recorded, 'gatehouse'),
      anchor: cpu(recorded, 'recorded'),
    },
    {
      figure: `CPU per GiB relayed, the recording's cost: Gatehouse on − off (anchor: pipe + recording − pipe)`,
      unit: 'CPU-s',
      gatehouse: cpu(recorded, 'gatehouse') - cpu(unrecorded, 'gatehouse'),
      anchor: cpu(recorded, 'recorded') - cpu(recorded, 'bare'),
    },
    {
      figure: `CPU per GiB relayed, relaying process, anchor sshd (ssh -L)`,
      unit: 'CPU-s',
      gatehouse: cpu(recorded, 'gatehouse'),
      anchor: cpu(recorded, 'ssh'),
    },
    ...(['bare', 'recorded', 'direct', 'ssh'] as const).map((p): Figure => ({
      figure: `bulk throughput (median of ${run.rounds}), anchor ${NAME[p]}`,
      unit: 'MB/s',
      gatehouse: mbps(recorded, 'gatehouse'),
      anchor: mbps(recorded, p),
      ...(p === 'bare'
        ? { goal: `≥ 0.8×: ${met(mbps(recorded, 'gatehouse') >= 0.8 * mbps(recorded, p))}` }
        : {}),
    })),
    ...run.active.flatMap(({ gatehouse: g, bare: b }): Figure[] => [
      ...(saturated(g) || saturated(b)
        ? [
            {
              figure: `${g.sessions} active sessions: ticks skipped (the message before not back), anchor bare pipe — the machine cannot carry this load, the goals below are not measured`,
              unit: '%' as const,
              gatehouse: latePercent(g),
              anchor: latePercent(b),
            },
          ]
        : []),
      {
        figure: `${g.sessions} active sessions, 200 B / 100 ms both ways: round trip p50, anchor bare pipe`,
        unit: 'ms',
        gatehouse: g.p50,
        anchor: b.p50,
      },
      {
        figure: `${g.sessions} active sessions: round trip p99, anchor bare pipe`,
        unit: 'ms',
        gatehouse: g.p99,
        anchor: b.p99,
        goal:
          saturated(g) || saturated(b)
            ? 'added < 5 ms: not measured (saturated)'
            : `added < 5 ms: ${met(g.p99 - b.p99 < 5)} (+${(g.p99 - b.p99).toFixed(2)} ms)`,
      },
      {
        figure: `${g.sessions} active sessions: CPU of the relaying process (% of a core), anchor bare pipe`,
        unit: '%',
        gatehouse: (100 * g.cpuSeconds) / g.windowSeconds,
        anchor: (100 * b.cpuSeconds) / b.windowSeconds,
        goal:
          saturated(g) || saturated(b)
            ? '≤ 1.5×: not measured (saturated)'
            : `≤ 1.5×: ${met(g.cpuSeconds / g.windowSeconds <= (1.5 * b.cpuSeconds) / b.windowSeconds)}`,
      },
    ]),
    ...(run.active.length > 1
      ? [
          {
            figure: `CPU ms per active session-second, ${run.active[1]!.gatehouse.sessions} (anchor: ${run.active[0]!.gatehouse.sessions}) sessions`,
            unit: 'ms' as const,
            gatehouse: run.active[1]!.gatehouse.cpuMsPerSessionSecond,
            anchor: run.active[0]!.gatehouse.cpuMsPerSessionSecond,
            goal: 'flat (≈ 1×)',
          },
        ]
      : []),
    {
      figure: 'CPU per GiB relayed, recording on (anchor: recording off, test-only hook)',
      unit: 'CPU-s',
      gatehouse: cpu(recorded, 'gatehouse'),
      anchor: cpu(unrecorded, 'gatehouse'),
    },
    {
      figure: 'bulk throughput, recording on (anchor: recording off)',
      unit: 'MB/s',
      gatehouse: mbps(recorded, 'gatehouse'),
      anchor: mbps(unrecorded, 'gatehouse'),
    },
    ...(['direct', 'bare'] as const).map((p): Figure => ({
      figure: `round trip 64 B p50 (${run.pings}), anchor ${NAME[p]}`,
      unit: 'ms',
      gatehouse: rtt.gatehouse.p50,
      anchor: rtt[p].p50,
    })),
    {
      figure: `RSS per idle session (${run.idle.gatehouse.sessions}), anchor bare pipe (${run.idle.bare.sessions} pairs)`,
      unit: 'KiB',
      gatehouse: run.idle.gatehouse.perSessionKiB,
      anchor: run.idle.bare.perSessionKiB,
      goal: `< 20 KiB: ${met(run.idle.gatehouse.perSessionKiB < 20)}`,
    },
    {
      figure: `CPU of the idle sessions (% of a core, ${run.idle.seconds} s), anchor bare pipe`,
      unit: '%',
      gatehouse: (100 * run.idle.gatehouse.cpuSeconds) / run.idle.gatehouse.windowSeconds,
      anchor: (100 * run.idle.bare.cpuSeconds) / run.idle.bare.windowSeconds,
    },
    {
      figure: `one GET /metrics with the idle sessions (anchor: GET /health), median of ${run.idle.gatehouse.scrapes}`,
      unit: 'ms',
      gatehouse: run.idle.gatehouse.scrapeMs!,
      anchor: run.idle.gatehouse.healthMs!,
    },
  ];
  const rounds = (b: BulkResult) =>
    (Object.keys(b.ms) as Path[])
      .map((p) => `${p} ${b.ms[p]!.map((ms) => ((b.bytes / ms) * 1e-3).toFixed(0)).join('/')}`)
      .join('; ');
  const perGiB = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ');
  const kib = (f: IdleFigures) =>
    `${Math.round(f.baselineKiB / 1024)} → ${Math.round(f.openKiB / 1024)} → ${Math.round(f.afterWindowKiB / 1024)} MiB`;
  const way = (f: ActiveFigures) =>
    Object.entries(f.wayCpuPercent)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ');
  const chainLine = (label: string, b: BulkResult) =>
    (Object.keys(b.chain) as Path[]).map((p) => {
      const c = b.chain[p]!;
      const parts = Object.entries(c.cpuPerGiB)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(' + ');
      return `Chain ${label}${p}: CPU-s per GiB ${parts} = ${c.totalCpuPerGiB.toFixed(2)}; machine busy ${(100 * c.busy).toFixed(0)} % of ${c.cores} cores (the chain ${(100 * c.chainShareOfBusy).toFixed(0)} % of it) → ceiling ${c.ceilingMBps.toFixed(0)} MB/s; measured ${c.measuredMBps.toFixed(0)} MB/s`;
    });
  const gChain = recorded.chain.gatehouse;
  const pChain = recorded.chain.bare;
  const notes = [
    `Bulk MB/s per round: ${rounds(recorded)}; recording off: ${rounds(unrecorded)}`,
    `Relaying process CPU-s per GiB: ${perGiB(recorded.relayCpuPerGiB)}; recording off: ${perGiB(unrecorded.relayCpuPerGiB)}`,
    `CPU-s per GiB on a session's way: ${perGiB(recorded.sessionCpuPerGiB)}; recording off: ${perGiB(unrecorded.sessionCpuPerGiB)}`,
    ...chainLine('', recorded),
    ...chainLine('recording off, ', unrecorded),
    ...(gChain && pChain
      ? [
          `Chain Gatehouse / bare pipe: throughput measured ${(gChain.measuredMBps / pChain.measuredMBps).toFixed(2)}×; chain CPU-s per GiB pipe / Gatehouse ${(pChain.totalCpuPerGiB / gChain.totalCpuPerGiB).toFixed(2)}× (the throughput ratio if both ways are bound by the cores)`,
        ]
      : []),
    ...run.active.map(
      ({ gatehouse: g, bare: b }) =>
        `${g.sessions} active: ${g.roundTrips} round trips (${g.late} late) through Gatehouse, ${b.roundTrips} (${b.late} late) through the pipe; CPU ms per session-second ${g.cpuMsPerSessionSecond.toFixed(3)} and ${b.cpuMsPerSessionSecond.toFixed(3)}; load from ${g.generators} processes using ${((100 * g.generatorCpuSeconds) / g.windowSeconds).toFixed(0)} % and ${((100 * b.generatorCpuSeconds) / b.windowSeconds).toFixed(0)} % of a core; on the way (% of a core): ${way(g)}; through the pipe ${way(b)}`,
    ),
    `Worker RSS before / with idle sessions open / after the window: ${kib(run.idle.gatehouse)} (opened in ${run.idle.gatehouse.openSeconds.toFixed(1)} s); bare pipe ${kib(run.idle.bare)}`,
  ];
  return { table, notes };
}
