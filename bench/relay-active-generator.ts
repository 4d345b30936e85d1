/**
 * One process of the relay benchmark's interactive load (bench/relay-active.ts forks several, so
 * that no single event loop of the load limits what is measured): it opens its share of the
 * sessions, each paired end to end by one round trip, says `ready`, and on `go` sends a message
 * every interval on each session for the window, timing each echo. Its answer is the round trips
 * (ms), the ticks it had to skip (the previous message not back yet) and its own CPU.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { RepresentativeConsole } from '../src/clients/console.js';
import { pingPong } from './relay-traffic.js';

/** How a generator reaches the echo: through the appliance or through the bare pipe. */
/** The load of the active-sessions benchmark: sessions, for how long, what each sends how often. */
export interface ActiveLoad {
  sessions: number;
  seconds: number;
  messageBytes: number;
  intervalMs: number;
}

export type ActivePath =
  | {
      kind: 'gatehouse';
      site: { host: string; port: number; fingerprint: string };
      username: string;
      password: string;
      jumpClient: string;
      target: string;
    }
  | { kind: 'bare'; host: string; port: number; servername: string };

export interface GeneratorJob {
  path: ActivePath;
  sessions: number;
  load: ActiveLoad;
}

export type GeneratorMessage =
  { ready: number } | { rtt: Float64Array; late: number; cpuSeconds: number } | { error: string };

const OPEN_CONCURRENCY = 32;

async function opener(p: ActivePath): Promise<{ open: () => Promise<Duplex>; close: () => void }> {
  if (p.kind === 'bare')
    return {
      open: async () => {
        const s = tls.connect({
          host: p.host,
          port: p.port,
          rejectUnauthorized: false,
          servername: p.servername,
        });
        s.setNoDelay(true);
        await once(s, 'secureConnect');
        return s;
      },
      close: () => undefined,
    };
  const rep = await RepresentativeConsole.signIn(p.site, p.username, p.password);
  return {
    open: async () => (await rep.openSession(p.jumpClient, p.target)).socket,
    close: () => void rep.close(),
  };
}

/** One session's message every interval, timed until its echo is back. */
function keystrokes(socket: Duplex, load: ActiveLoad, rtt: number[], late: { n: number }) {
  const message = randomBytes(load.messageBytes);
  let sentAt: number | undefined;
  let got = 0;
  socket.on('data', (c: Buffer) => {
    got += c.length;
    if (got < load.messageBytes || sentAt === undefined) return;
    got -= load.messageBytes;
    rtt.push(performance.now() - sentAt);
    sentAt = undefined;
  });
  const tick = () => {
    if (sentAt !== undefined) return void late.n++;
    sentAt = performance.now();
    socket.write(message);
  };
  // Spread over the interval, as people typing are.
  let timer: NodeJS.Timeout = setTimeout(() => {
    tick();
    timer = setInterval(tick, load.intervalMs);
  }, Math.random() * load.intervalMs);
  return () => clearTimeout(timer);
}

async function run(job: GeneratorJob): Promise<void> {
  const { open, close } = await opener(job.path);
  const sockets: Duplex[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(job.sessions, OPEN_CONCURRENCY) }, async () => {
      while (next < job.sessions) {
        next++;
        const s = await open();
        s.on('error', () => undefined);
        await pingPong(s, 1, [], job.load.messageBytes);
        sockets.push(s);
      }
    }),
  );
  // Listening first keeps the IPC channel (and so this process) alive while it waits.
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  await send({ ready: sockets.length });
  await go;
  const rtt: number[] = [];
  const late = { n: 0 };
  const cpu0 = process.cpuUsage();
  const stops = sockets.map((s) => keystrokes(s, job.load, rtt, late));
  await new Promise((r) => setTimeout(r, job.load.seconds * 1000));
  for (const stop of stops) stop();
  const used = process.cpuUsage(cpu0);
  for (const s of sockets) s.destroy();
  close();
  await send({
    rtt: Float64Array.from(rtt),
    late: late.n,
    cpuSeconds: (used.user + used.system) / 1e6,
  });
}

/** Resolves once the message is written: disconnecting before would lose a large one. */
function send(m: GeneratorMessage): Promise<void> {
  return new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
}

const job = JSON.parse(process.env.BENCH_GENERATOR_JOB ?? 'null') as GeneratorJob | null;
if (!job || !process.send) {
  console.error('relay-active-generator: run by bench/relay-active.ts (fork with a job)');
  process.exit(2);
}
run(job).then(
  () => process.disconnect(),
  (e: Error) => send({ error: e.stack ?? e.message }).then(() => process.disconnect()),
);
