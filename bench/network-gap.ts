/**
 * The prober's timeline around a planned switch's longest gap in `npm run bench -- network`:
 * which handshakes failed (error or no answer in 500 ms), when they began and ended, which
 * appliance answered the ones before and after, beside the Become Primary request and the
 * appliances' own events (role changes, syncs with their start and end) in the same window.
 * The median of the planned switch hides a run that waits outside the switch itself.
 */
import type { Probe, Probes } from './network-prober.js';

/** Something an appliance or the bench did, at `at` (ms since 1970). */
export interface TimedEvent {
  at: number;
  what: string;
}

/** An appliance's event log entry, as `GET /api/login/logs` gives it. */
export interface LogEvent {
  ts: number;
  action: string;
  status?: string;
  details: Record<string, unknown>;
}

/** How far before the gap and after it the timeline looks (events: from `eventsSince` too). */
const BEFORE_MS = 1_500;
const AFTER_MS = 200;
/** Answers further apart than this are not one stretch: the pause is on its own line. */
const STRETCH_MS = 50;

/** An appliance's events as timeline entries; a sync as its start and its end. */
export function applianceEvents(who: string, items: LogEvent[]): TimedEvent[] {
  return items.flatMap((e) => {
    const failed = e.status === 'failed' ? ' (failed)' : '';
    const ms = typeof e.details.ms === 'number' ? e.details.ms : undefined;
    if (e.action === 'failover.sync' && ms !== undefined)
      return [
        { at: e.ts - ms, what: `${who}: sync (${String(e.details.mode)}) began` },
        { at: e.ts, what: `${who}: sync ended${failed}, ${ms} ms` },
      ];
    return [{ at: e.ts, what: `${who}: ${e.action}${failed}` }];
  });
}

/** Consecutive answers by one appliance as one line; each failure as its own. */
function probeLines(probes: Probes, names: Map<string, string>, from: number, to: number) {
  const all: Probe[] = [...probes.seen, ...probes.errors]
    .filter(([t]) => t >= from && t <= to)
    .sort((x, y) => x[0] - y[0]);
  const out: TimedEvent[] = [];
  let run: { who: string; first: Probe; last: Probe; n: number } | undefined;
  const flush = () => {
    if (!run) return;
    const span = run.n > 1 ? ` … ${run.last[0]}` : '';
    out.push({ at: run.first[0], what: `${run.n} handshake(s) answered by ${run.who}${span}` });
    run = undefined;
  };
  for (const p of all) {
    const who = names.get(p[1]);
    if (who && run?.who === who && p[0] - run.last[0] <= STRETCH_MS) {
      run.last = p;
      run.n++;
      continue;
    }
    const pause = run && who === run.who ? p[0] - run.last[0] : 0;
    flush();
    if (pause) out.push({ at: p[0], what: `(no answer for ${pause} ms)` });
    if (who) run = { who, first: p, last: p, n: 1 };
    else out.push({ at: p[0], what: `handshake failed: ${p[1]} (began at ${p[2]})` });
  }
  flush();
  return out;
}

/**
 * The timeline of one planned run around its gap, times in ms after `t0` (the request's start);
 * a probe's "began" is rewritten the same way. Events are shown from `eventsSince` on (what the
 * appliances did since the pair came back together), or from the gap's window if that is earlier.
 */
export function gapTimeline(
  title: string,
  t0: number,
  gap: { from: number; to: number },
  probes: Probes,
  names: Map<string, string>,
  events: TimedEvent[],
  eventsSince: number,
): string {
  const from = gap.from - BEFORE_MS;
  const to = gap.to + AFTER_MS;
  const eventsFrom = Math.min(from, eventsSince);
  const lines = [
    ...probeLines(probes, names, from, to),
    ...events.filter((e) => e.at >= eventsFrom && e.at <= to),
  ].sort((x, y) => x.at - y.at);
  const rel = (what: string) => what.replace(/\d{13}/g, (t) => `${Number(t) - t0}`);
  return [
    `${title}: gap of ${gap.to - gap.from} ms from ${gap.from - t0} to ${gap.to - t0} (ms after the request began)`,
    ...lines.map((l) => `  ${String(l.at - t0).padStart(6)}  ${rel(l.what)}`),
  ].join('\n');
}
