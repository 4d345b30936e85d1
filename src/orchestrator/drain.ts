import type { ExecContext } from './exec-context.js';
import type { Plan } from './plan-types.js';
import { orchestratorErrors } from './error-codes.js';

/** How often the wait says who still holds a node. */
const PROGRESS_EVERY_MS = 10_000;
const POLL_MS = 500;

interface HeldSession {
  id: string;
  representative: string;
  jumpClient: string;
  target: string;
  startedAt: number;
}

interface Holder {
  kind: string;
  name: string;
  /** Absent for a client that moved away while its sessions still run here. */
  connectedAt?: number;
  sessions: HeldSession[];
}

/** What a draining node still carries: its connected clients, each with its sessions. */
export interface NodeHold {
  node: string;
  clients: Holder[];
}

/** What the drain step's line says it will do when the deadline passes. */
export function drainTitle(names: string[], options: Plan['options']): string {
  const then =
    options.onDrainTimeout === 'proceed'
      ? 'then install anyway, cutting their sessions'
      : 'then stop the run';
  return `Wait until ${names.join(', ')} have no connected clients (at most ${Math.round(options.drainTimeoutMs / 1000)} s, ${then})`;
}

const age = (since: number, now: number) => {
  const s = Math.max(0, Math.round((now - since) / 1000));
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
};

/** One line per node: who holds it and for how long. */
export function describeHolds(holds: NodeHold[], now = Date.now()): string[] {
  return holds.map((h) => {
    const clients = h.clients.map((c) => {
      const sessions = c.sessions.length
        ? `, ${c.sessions.length} session(s): ${c.sessions.map((s) => `${s.representative} → ${s.target} for ${age(s.startedAt, now)}`).join('; ')}`
        : '';
      const where =
        c.connectedAt === undefined ? 'moved away' : `connected ${age(c.connectedAt, now)}`;
      return `${c.kind} ${c.name} (${where}${sessions})`;
    });
    return `${h.node} still has ${h.clients.length} connected clients: ${clients.join(', ')}`;
  });
}

/**
 * A node's connected clients, and the Jump Clients that moved away while sessions of theirs
 * still run here (a previous release's session stays on its node): both keep it from draining.
 */
async function holdOf(ctx: ExecContext, node: string): Promise<NodeHold> {
  const [info, records] = await Promise.all([
    ctx.deployment.call<{ connectedClients: Holder[] }>(
      node,
      'GET',
      '/api/login/status/information',
    ),
    ctx.deployment.call<{ live: HeldSession[] }>(
      node,
      'GET',
      `/api/login/sessions?since=${Date.now() + 86_400_000}&limit=1`,
    ),
  ]);
  const counted = new Set(info.connectedClients.flatMap((c) => c.sessions.map((s) => s.id)));
  const moved = new Map<string, Holder>();
  for (const s of records.live.filter((l) => !counted.has(l.id))) {
    const h = moved.get(s.jumpClient) ?? { kind: 'jump-client', name: s.jumpClient, sessions: [] };
    h.sessions.push(s);
    moved.set(s.jumpClient, h);
  }
  return { node, clients: [...info.connectedClients, ...moved.values()] };
}

const sessionsOf = (holds: NodeHold[]) =>
  holds.reduce((n, h) => n + h.clients.reduce((m, c) => m + c.sessions.length, 0), 0);

/**
 * Wait until the nodes have no connected clients (they drain at the same time, since they
 * stopped accepting), saying every 10 s which clients and sessions still hold each one. A step
 * that already waited its full time once (`waitedBefore`) and now proceeds does not wait again.
 */
export async function waitDrained(
  ctx: ExecContext,
  nodes: string[],
  waitedBefore: boolean,
): Promise<{
  stillConnected: Record<string, number>;
  cut?: { sessions: number; nodes: string[] };
  summary?: string;
}> {
  const { options } = ctx.plan;
  const atOnce = waitedBefore && options.onDrainTimeout === 'proceed';
  const deadline = Date.now() + (atOnce ? 0 : options.drainTimeoutMs);
  let lastSaid = 0;
  let holds: NodeHold[] = [];
  for (;;) {
    holds = (await Promise.all(nodes.map((n) => holdOf(ctx, n)))).filter((h) => h.clients.length);
    if (!holds.length) return { stillConnected: {} };
    const now = Date.now();
    if (now >= deadline) break;
    if (now - lastSaid >= PROGRESS_EVERY_MS) {
      lastSaid = now;
      ctx.log(`  waiting (${Math.ceil((deadline - now) / 1000)} s left):`);
      for (const l of describeHolds(holds, now)) ctx.log(`    ${l}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const stillConnected = Object.fromEntries(holds.map((h) => [h.node, h.clients.length]));
  if (options.onDrainTimeout === 'abort')
    throw orchestratorErrors.UPGRADE_DRAIN_TIMEOUT(
      `${describeHolds(holds).join('; ')} after ${Math.round(options.drainTimeoutMs / 1000)} s. Nothing was installed on them; they still accept no new clients. Wait for those sessions to end and run \`gatehouse upgrade resume\`, or run \`gatehouse upgrade resume --on-drain-timeout proceed\` to install anyway at once (their sessions are cut).`,
    );
  const cut = { sessions: sessionsOf(holds), nodes: holds.map((h) => h.node) };
  return {
    stillConnected,
    cut,
    summary: `cut ${cut.sessions} session(s) on ${cut.nodes.join(', ')} (the install ends them; their records are kept)`,
  };
}
