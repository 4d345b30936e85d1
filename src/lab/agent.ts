import path from 'node:path';
import { JumpClient } from '../clients/jump-client.js';
import type { Endpoint } from '../clients/tunnel.js';
import { writeFileAtomicSync } from '../shared/fs.js';
import { ADDRESSES, jumpClientRegion } from './plan.js';
import { readLabSecret } from './secrets.js';
import { endpointKey, resolveSite } from './site-endpoint.js';
import { requireState, statsFile, type LabState } from './state.js';
import { SyntheticSessions, type SessionStats } from './synthetic.js';
import { startTargets } from './targets.js';

/** DIR/agent-stats.json, rewritten atomically every second. */
export interface AgentStats {
  updatedAt: string;
  startedAt: string;
  pid: number;
  targets: { echo: string; http: string };
  jumpClients: {
    total: number;
    connected: number;
    clients: {
      name: string;
      region?: string;
      state: string;
      connectedTo?: string;
      lastError?: string;
      /** Disconnections it came back from, and their total length (as it told the site). */
      reconnections: number;
      downMs: number;
    }[];
  };
  sessions: SessionStats;
}

/** How long a Jump Client may be down before the agent looks for where the site went. */
const FOLLOW_AFTER_MS = 3_000;

interface Managed {
  name: string;
  region?: string;
  client: JumpClient;
  endpoint: string;
  downSince?: number;
  /** The reconnections of the clients it replaced (the site moved). */
  before: { count: number; downMs: number };
}

/**
 * `gatehouse lab agent`: the remote computers and the operators of the lab. It runs the local
 * targets, the Jump Clients (each in its region) and consoles running synthetic sessions, and
 * follows the site when the traffic switch moves it (another address or certificate).
 */
export async function runAgent(dir: string, log: (line: string) => void): Promise<void> {
  const state: LabState = requireState(path.resolve(dir));
  const targets = await startTargets(ADDRESSES.targets);
  const token = readLabSecret(state.dir, state.jumpClientTokenFile!);
  const startedAt = new Date().toISOString();
  const managed: Managed[] = [];
  const site = () => resolveSite(state);
  const makeClient = (
    m: { name: string; region?: string },
    endpoint: Endpoint,
    disconnected?: { since: number; reason: string },
  ) => {
    const client = new JumpClient({
      site: endpoint,
      name: m.name,
      group: m.region ?? 'lab',
      token,
      // The same installation whenever the agent starts it again (the site moved, a restart).
      identity: path.join(state.dir, 'jump-clients', `${m.name}.json`),
      allow: [targets.echo, targets.http],
      ...(m.region ? { region: m.region } : {}),
      log: (line) => log(`${m.name}: ${line}`),
      ...(disconnected ? { disconnected } : {}),
    });
    client.start();
    return client;
  };
  const first = await site();
  for (let i = 0; i < state.options.jumpClients; i++) {
    const m = { name: `lab-jump-${i + 1}`, region: jumpClientRegion(state.options, i) };
    managed.push({
      ...m,
      client: makeClient(m, first),
      endpoint: endpointKey(first),
      before: { count: 0, downMs: 0 },
    });
  }
  let stopping = false;
  const follow = async (m: Managed) => {
    if (stopping || m.client.state === 'connected') return void (m.downSince = undefined);
    m.downSince ??= Date.now();
    if (Date.now() - m.downSince < FOLLOW_AFTER_MS) return;
    const now = await site().catch(() => undefined);
    if (!now || endpointKey(now) === m.endpoint) return;
    log(`${m.name}: the site moved to ${now.host}:${now.port}; reconnecting there`);
    await m.client.stop();
    // The new client tells the site how long this one was away: one disconnection, not two.
    const away = m.client.disconnectedSince;
    m.before.count += m.client.reconnections.count;
    m.before.downMs += m.client.reconnections.downMs;
    m.client = makeClient(m, now, away);
    m.endpoint = endpointKey(now);
    m.downSince = undefined;
  };
  const synthetic = new SyntheticSessions({
    site,
    username: state.credentials.representative.username,
    password: readLabSecret(state.dir, state.credentials.representative.passwordFile),
    jumpClients: managed.map((m) => ({ name: m.name, ...(m.region ? { region: m.region } : {}) })),
    target: targets.echo,
    sessionRate: state.agent?.sessionRate ?? 1,
    longSessions: state.agent?.longSessions ?? 2,
  });
  let sessionsStarted = false;
  const tick = async () => {
    await Promise.all(managed.map((m) => follow(m).catch(() => undefined)));
    const connected = managed.filter((m) => m.client.state === 'connected').length;
    // Sessions start once every Jump Client is there, so the first ones do not fail for nothing.
    if (!sessionsStarted && connected === managed.length && managed.length > 0) {
      sessionsStarted = true;
      synthetic.start();
    }
    const stats: AgentStats = {
      updatedAt: new Date().toISOString(),
      startedAt,
      pid: process.pid,
      targets: { echo: targets.echo, http: targets.http },
      jumpClients: {
        total: managed.length,
        connected,
        clients: managed.map((m) => ({
          name: m.name,
          ...(m.region ? { region: m.region } : {}),
          state: m.client.state,
          ...(m.client.connectedTo ? { connectedTo: m.client.connectedTo } : {}),
          ...(m.client.lastError ? { lastError: m.client.lastError } : {}),
          reconnections: m.before.count + m.client.reconnections.count,
          downMs: m.before.downMs + m.client.reconnections.downMs,
        })),
      },
      sessions: synthetic.stats,
    };
    writeFileAtomicSync(statsFile(state.dir), JSON.stringify(stats, null, 2) + '\n', 0o644);
  };
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    void tick()
      .catch((e: Error) => log(`stats not written: ${e.message}`))
      .finally(() => (ticking = false));
  }, 1_000);
  await tick();
  log(`agent running: ${managed.length} Jump Client(s), targets ${targets.echo} ${targets.http}`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  stopping = true;
  clearInterval(timer);
  await synthetic.stop();
  await Promise.all(managed.map((m) => m.client.stop()));
  await targets.close();
  await tick().catch(() => undefined);
  log('agent stopped');
}
