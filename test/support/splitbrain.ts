import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { LAB_CLIENT, targets } from '../../src/lab/lab-client.js';
import { nsExec } from '../../src/lab/netns.js';
import { hostOf } from '../../src/lab/network-plan.js';
import type { LabState } from '../../src/lab/state.js';

export interface Ack {
  client: string;
  kind: 'user' | 'file';
  id: string;
  appliance: string;
  sentAt: number;
  ackAt: number;
}

export interface RoleEvent {
  appliance: string;
  action: string;
  ts: number;
  details: Record<string, unknown>;
}

/**
 * A writer in a host's namespace, naming what it writes `CLIENT-N` (CLIENT: the host, or
 * `client` when several writers run there one after another); `stop` ends it and returns
 * every acknowledgement it printed.
 */
export function startWriter(
  state: LabState,
  host: string,
  password: string,
  client = host,
): { stop: () => Promise<{ acks: Ack[]; refused: Record<string, number> }> } {
  const ns = hostOf(state.network!, host)!.ns;
  const cfg = { client, appliances: targets(state), password };
  const [file, ...args] = nsExec(ns, [process.execPath, LAB_CLIENT, 'write', JSON.stringify(cfg)]);
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const acks: Ack[] = [];
  let refused: Record<string, number> = {};
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const r = JSON.parse(l) as Ack & { refused?: Record<string, number> };
    if (r.refused) refused = r.refused;
    else acks.push(r);
  });
  const exited = new Promise((resolve) => child.once('close', resolve));
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      return { acks, refused };
    },
  };
}

/** Events that begin or end an appliance's time as a primary that accepts changes. */
export const ROLE_ACTIONS = [
  'failover.established',
  'failover.became-primary',
  'failover.became-backup',
  'failover.automatic-takeover',
  'failover.stepped-down',
  'failover.fenced',
  'failover.serving',
];

/**
 * Each appliance's time as a primary that accepts changes, from its own role events: it begins
 * when it became primary (established as one, took over, was handed the role) or serves again,
 * and ends when it stepped down or was fenced — at the moment its last vote ran out (`since`,
 * `fencedSince`), which may be before it noticed (frozen).
 */
export function servingIntervals(events: RoleEvent[], end: number): [number, number][] {
  const out: [number, number][] = [];
  let from: number | undefined;
  const endAt = (e: RoleEvent) => {
    const since = Date.parse(String(e.details.since ?? e.details.fencedSince ?? ''));
    return Number.isNaN(since) ? e.ts : Math.min(e.ts, since);
  };
  for (const e of [...events].sort((x, y) => x.ts - y.ts)) {
    const becomes =
      (e.action === 'failover.established' && e.details.role === 'primary') ||
      e.action === 'failover.automatic-takeover' ||
      e.action === 'failover.serving' ||
      (e.action === 'failover.became-primary' && e.details.from !== 'primary');
    const leaves = ['failover.stepped-down', 'failover.became-backup', 'failover.fenced'].includes(
      e.action,
    );
    if (becomes && from === undefined) from = e.ts;
    else if (leaves && from !== undefined) {
      out.push([from, endAt(e)]);
      from = undefined;
    }
  }
  if (from !== undefined) out.push([from, end]);
  return out;
}

/** A small seeded generator (mulberry32): the same seed gives the same fault schedule. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
