/**
 * Many active sessions (the relay benchmark's interactive load): each session sends a message
 * every interval through an echo (a keystroke out, a screen update back) and times its round
 * trip; the relaying process's CPU over the window. Run through the appliance and through the
 * bare Node TLS pipe with the same numbers.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { cpuSeconds } from './relay-proc.js';
import { openMany, progress, since } from './relay-site.js';
import { pingPong } from './relay-traffic.js';
import { percentile } from './support.js';

export interface ActiveLoad {
  sessions: number;
  seconds: number;
  messageBytes: number;
  intervalMs: number;
}

export interface ActiveFigures {
  sessions: number;
  windowSeconds: number;
  roundTrips: number;
  /** Ticks whose message was not sent: the one before had not come back yet. */
  late: number;
  p50: number;
  p99: number;
  cpuSeconds: number;
  /** CPU of the relaying process per session: milliseconds per second of the window. */
  cpuMsPerSessionSecond: number;
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
    rtt.push(since(sentAt));
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

/** `load` through the path `open` opens, relayed by `pid`. */
export async function activeSessions(
  what: string,
  pid: number,
  open: () => Promise<Duplex>,
  load: ActiveLoad,
): Promise<ActiveFigures> {
  const sockets = await openMany(load.sessions, what, async () => {
    const s = await open();
    s.on('error', () => undefined);
    // One round trip first: the session is paired end to end before the window.
    await pingPong(s, 1, [], load.messageBytes);
    return s;
  });
  progress(`${what}: ${load.sessions} sessions active for ${load.seconds} s`);
  const rtt: number[] = [];
  const late = { n: 0 };
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const stops = sockets.map((s) => keystrokes(s, load, rtt, late));
  await new Promise((r) => setTimeout(r, load.seconds * 1000));
  const cpu = cpuSeconds(pid) - cpu0;
  const windowSeconds = since(t0) / 1000;
  for (const stop of stops) stop();
  for (const s of sockets) s.destroy();
  rtt.sort((a, b) => a - b);
  const figures = {
    sessions: load.sessions,
    windowSeconds,
    roundTrips: rtt.length,
    late: late.n,
    p50: percentile(rtt, 50),
    p99: percentile(rtt, 99),
    cpuSeconds: cpu,
    cpuMsPerSessionSecond: (1000 * cpu) / windowSeconds / load.sessions,
  };
  progress(
    `${what}: p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms, CPU ${((100 * cpu) / windowSeconds).toFixed(0)} % of a core, ${late.n} late`,
  );
  return figures;
}
