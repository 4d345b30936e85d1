/**
 * Idle sessions of the relay benchmark: RSS growth and CPU of the relaying process while they
 * are open, on the appliance and on the bare Node TLS pipe.
 */
import { performance } from 'node:perf_hooks';
import { scrapeBesideHealth, scraper } from './metrics-cost.js';
import { cpuSeconds, rssKiB } from './relay-proc.js';
import {
  ADMIN_PASSWORD,
  JUMP,
  noLiveSessions,
  openMany,
  progress,
  since,
  type BarePipe,
  type Setup,
} from './relay-site.js';

const WARMUP_SESSIONS = 20;
const SCRAPES = 15;

export interface IdleFigures {
  sessions: number;
  /** One GET /metrics and one GET /health with the sessions open: medians of SCRAPES. */
  scrapeMs?: number;
  healthMs?: number;
  scrapes: number;
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
  seconds: number,
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
  progress(`${what}: ${n} open in ${openSeconds.toFixed(1)} s; idle for ${seconds} s (pid ${pid})`);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = cpuSeconds(pid) - cpu0;
  const windowSeconds = since(w0) / 1000;
  const afterWindowKiB = rssKiB(pid);
  return {
    held,
    figures: {
      sessions: n,
      scrapes: SCRAPES,
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

/**
 * Idle sessions on the site's appliance, freshly restarted by the caller (its worker's memory
 * not yet grown by traffic). Ends with the power-cut stop: ending thousands of recorded
 * sessions is not what is measured here.
 */
export async function idleSessions(setup: Setup, n: number, seconds: number) {
  // Every code path of a session runs once before the baseline.
  const warm = await openMany(WARMUP_SESSIONS, 'warm-up sessions', () =>
    setup.rep.openSession(JUMP, setup.targets.echo),
  );
  for (const s of warm) s.socket.destroy();
  await noLiveSessions(setup.rep);
  const { figures, held } = await idleWindow(
    setup.pids.worker,
    n,
    seconds,
    'idle sessions',
    async () => {
      const { socket } = await setup.rep.openSession(JUMP, setup.targets.echo);
      socket.on('error', () => undefined);
      return socket;
    },
  );
  const live = (await setup.rep.jumpClients()).find((j) => j.name === JUMP)?.sessions;
  if (live !== n) throw new Error(`${live} sessions live on the appliance, ${n} opened`);
  // Each session is a row of the gateway's maps a scrape walks.
  const api = setup.appliance.client();
  try {
    await api.signIn('appliance', 'admin', ADMIN_PASSWORD);
    Object.assign(figures, await scrapeBesideHealth(api, await scraper(api), SCRAPES));
  } finally {
    await api.close();
  }
  for (const s of held) s.destroy();
  await setup.appliance.kill();
  return figures;
}

/** The same number of connection pairs held by the bare Node TLS pipe. */
export async function idlePairs(bare: BarePipe, n: number, seconds: number) {
  const pair = async () => [await bare.connect(), await bare.connect()];
  for (const s of (await openMany(WARMUP_SESSIONS, 'warm-up pairs', pair)).flat()) s.destroy();
  const { figures, held } = await idleWindow(bare.pid, n, seconds, 'anchor pairs', pair);
  for (const s of held.flat()) s.destroy();
  return figures;
}
