/**
 * Many active sessions (the relay benchmark's interactive load): each session sends a message
 * every interval through an echo (a keystroke out, a screen update back) and times its round
 * trip; the relaying process's CPU over the window. Run through the appliance and through the
 * bare Node TLS pipe with the same numbers. The load comes from several processes
 * (bench/relay-active-generator.ts), so that one event loop of the load generator is not what
 * limits the figures; their own CPU is reported beside.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type {
  ActiveLoad,
  ActivePath,
  GeneratorJob,
  GeneratorMessage,
} from './relay-active-generator.js';
import { cpuSeconds } from './relay-proc.js';
import { progress, since } from './relay-site.js';
import { percentile } from './support.js';

const GENERATOR = fileURLToPath(new URL('./relay-active-generator.js', import.meta.url));
/** Sessions are opened slowly enough by a whole generator: give each a minute per 1,000. */
const OPEN_MS_PER_SESSION = 60;

export type { ActiveLoad } from './relay-active-generator.js';

export interface ActiveFigures {
  sessions: number;
  generators: number;
  windowSeconds: number;
  roundTrips: number;
  /** Ticks whose message was not sent: the one before had not come back yet. */
  late: number;
  p50: number;
  p99: number;
  cpuSeconds: number;
  /** CPU of the relaying process per session: milliseconds per second of the window. */
  cpuMsPerSessionSecond: number;
  /** CPU the load generators used over the window (all of them). */
  generatorCpuSeconds: number;
  /** % of a core each other process on the session's way used over the window. */
  wayCpuPercent: Record<string, number>;
}

interface Generator {
  child: ChildProcess;
  next: () => Promise<GeneratorMessage>;
}

function startGenerator(job: GeneratorJob): Generator {
  const child = fork(GENERATOR, [], {
    env: { ...process.env, BENCH_GENERATOR_JOB: JSON.stringify(job) },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: GeneratorMessage[] = [];
  const waiting: ((m: GeneratorMessage) => void)[] = [];
  const deliver = (m: GeneratorMessage) => {
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  };
  child.on('message', (m) => deliver(m as GeneratorMessage));
  // 'close', not 'exit': a last message may still be on its way when the process has exited.
  child.on('close', (code) => deliver({ error: `the generator exited (code ${code})` }));
  return {
    child,
    next: () => {
      const m = inbox.shift();
      return m ? Promise.resolve(m) : new Promise((r) => waiting.push(r));
    },
  };
}

async function expect<K extends string>(
  g: Generator,
  key: K,
  ms: number,
  what: string,
): Promise<Extract<GeneratorMessage, Record<K, unknown>>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  try {
    const m = await Promise.race([g.next(), deadline]);
    if ('error' in m) throw new Error(`${what}: ${m.error}`);
    if (!(key in m)) throw new Error(`${what}: unexpected ${JSON.stringify(Object.keys(m))}`);
    return m as Extract<GeneratorMessage, Record<K, unknown>>;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `load` through `path` from `generators` processes, relayed by `pid`; `way` names the other
 * processes the messages cross (which one saturates first tells what limits the figures).
 */
export async function activeSessions(
  what: string,
  pid: number,
  way: Record<string, number>,
  path: ActivePath,
  load: ActiveLoad,
  generators: number,
): Promise<ActiveFigures> {
  const n = Math.max(1, Math.min(generators, load.sessions));
  const shares = Array.from(
    { length: n },
    (_, i) => Math.floor(load.sessions / n) + (i < load.sessions % n ? 1 : 0),
  );
  const gens = shares.map((sessions) => startGenerator({ path, sessions, load }));
  try {
    const t0 = performance.now();
    const openMs = 30_000 + OPEN_MS_PER_SESSION * load.sessions;
    await Promise.all(gens.map((g, i) => expect(g, 'ready', openMs, `${what}: generator ${i}`)));
    progress(
      `${what}: ${load.sessions} sessions opened by ${n} processes in ${(since(t0) / 1000).toFixed(1)} s, active for ${load.seconds} s`,
    );
    const cpu0 = cpuSeconds(pid);
    const way0 = Object.fromEntries(Object.entries(way).map(([k, p]) => [k, cpuSeconds(p)]));
    const w0 = performance.now();
    for (const g of gens) g.child.send('go');
    const windowMs = load.seconds * 1000;
    const results = await Promise.all(
      gens.map((g, i) => expect(g, 'rtt', windowMs + 60_000, `${what}: generator ${i}`)),
    );
    const cpu = cpuSeconds(pid) - cpu0;
    const windowSeconds = since(w0) / 1000;
    const wayCpuPercent = Object.fromEntries(
      Object.entries(way).map(([k, p]) => [k, (100 * (cpuSeconds(p) - way0[k]!)) / windowSeconds]),
    );
    const rtt = results.flatMap((r) => Array.from(r.rtt)).sort((a, b) => a - b);
    const late = results.reduce((s, r) => s + r.late, 0);
    const generatorCpuSeconds = results.reduce((s, r) => s + r.cpuSeconds, 0);
    const figures: ActiveFigures = {
      sessions: load.sessions,
      generators: n,
      windowSeconds,
      roundTrips: rtt.length,
      late,
      p50: percentile(rtt, 50),
      p99: percentile(rtt, 99),
      cpuSeconds: cpu,
      cpuMsPerSessionSecond: (1000 * cpu) / windowSeconds / load.sessions,
      generatorCpuSeconds,
      wayCpuPercent,
    };
    progress(
      `${what}: p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms, CPU ${((100 * cpu) / windowSeconds).toFixed(0)} % of a core (generators ${((100 * generatorCpuSeconds) / windowSeconds).toFixed(0)} %, ${Object.entries(
        wayCpuPercent,
      )
        .map(([k, v]) => `${k} ${v.toFixed(0)} %`)
        .join(', ')}), ${late} late`,
    );
    return figures;
  } finally {
    for (const g of gens) {
      if (g.child.exitCode === null) {
        g.child.kill();
        await once(g.child, 'exit');
      }
    }
  }
}
