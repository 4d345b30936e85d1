/**
 * Self time per function of a V8 `.cpuprofile` (as `BENCH_RELAY_PROFILE` writes them), with the
 * callers that spent most of it, optionally per GiB relayed:
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [GIB] [TOP]
 *
 * Read with care on a busy machine: V8 samples the main thread by the clock, so a function
 * during which the thread waited for a CPU (after waking a thread-pool thread, say) is charged
 * for the wait; and the collector's helper threads and the thread pool are not in the profile
 * at all. docs/benchmarks.md (issue 21) shows both; `perf record -p PID` sees every thread.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const nameOf = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;

export function summarize(profile: Profile, gib: number, top: number): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n);
  // Microseconds per function, and per caller of it.
  const self = new Map<string, number>();
  const callers = new Map<string, Map<string, number>>();
  let idle = 0;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id)!;
    const name = nameOf(node);
    total += us;
    if (node.callFrame.functionName === '(idle)') return void (idle += us);
    self.set(name, (self.get(name) ?? 0) + us);
    const caller = parentOf.get(id);
    const of = callers.get(name) ?? new Map<string, number>();
    const callerName = caller ? nameOf(caller) : '-';
    of.set(callerName, (of.get(callerName) ?? 0) + us);
    callers.set(name, of);
  });
  const s = (us: number) => (us / 1e6).toFixed(2);
  const lines = [`${s(total)} s sampled, ${s(total - idle)} s not idle`];
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const from = [...callers.get(name)!]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 2)
      .map(([c, t]) => `${c} ${s(t)} s`)
      .join('; ');
    const perGiB = gib > 0 ? ` ${s(us / gib).padStart(6)} s/GiB` : '';
    lines.push(`${s(us).padStart(7)} s${perGiB}  ${name}  (from ${from})`);
  }
  return lines;
}

const [file, gib = '0', top = '25'] = process.argv.slice(2);
if (!file) {
  console.error('Usage: node dist/bench/profile-summary.js FILE.cpuprofile [GIB] [TOP]');
  process.exitCode = 2;
} else {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  for (const line of summarize(profile, Number(gib), Number(top))) console.log(line);
}
