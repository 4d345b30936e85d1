import type { EventRecord } from '../site/events.js';
import type { Deployment } from './deployment.js';
import type { SessionStats } from './session-load.js';

/**
 * What the site's own records say its clients went through during the upgrade's window, summed
 * over every appliance of the inventory (each record counted once, wherever it has flowed):
 * beside the orchestrator's probes, which see only its own load.
 */
export interface SiteClientRecords {
  from: number;
  to: number;
  /** Appliances whose records were read, and those that could not be (their records are not in). */
  read: string[];
  unread: string[];
  sessionsEndedAbnormally: { total: number; byReason: Record<string, number> };
  /** Parts of resumable sessions that paused to move (the session went on elsewhere). */
  sessionsPaused: number;
  reconnections: {
    total: number;
    totalDownMs: number;
    maxDownMs: number;
    byReason: Record<string, number>;
  };
  refused: { total: number; byReason: Record<string, number> };
  /** Each record on the report's time axis (at most EVENTS_KEPT, the earliest). */
  events: { t: number; label: string; bad: boolean }[];
}

const EVENTS_KEPT = 500;

const ACTIONS = ['session.ended', 'client.reconnected', 'client.refused'];
const PAGE = 500;

async function eventsOf(d: Deployment, name: string, action: string, from: number, to: number) {
  const out: EventRecord[] = [];
  for (let page = 1; ; page++) {
    const { items } = await d.call<{ items: EventRecord[] }>(
      name,
      'GET',
      `/api/login/logs?action=${encodeURIComponent(action)}&since=${from}&until=${to}&page=${page}&pageSize=${PAGE}`,
    );
    out.push(...items);
    if (items.length < PAGE) return out;
  }
}

const add = (m: Record<string, number>, k: string, n = 1) => (m[k] = (m[k] ?? 0) + n);

/** Sum the records of the window from every appliance (deduplicated by event id). */
export async function readSiteRecords(
  d: Deployment,
  from: number,
  to: number,
): Promise<SiteClientRecords> {
  const byId = new Map<string, EventRecord>();
  const read: string[] = [];
  const unread: string[] = [];
  for (const a of d.inventory.appliances) {
    try {
      for (const action of ACTIONS)
        for (const e of await eventsOf(d, a.name, action, from, to)) byId.set(e.id, e);
      read.push(a.name);
    } catch {
      unread.push(a.name);
    }
  }
  return summarise([...byId.values()], { from, to, read, unread });
}

export function summarise(
  events: EventRecord[],
  window: Pick<SiteClientRecords, 'from' | 'to' | 'read' | 'unread'>,
): SiteClientRecords {
  const r: SiteClientRecords = {
    ...window,
    sessionsEndedAbnormally: { total: 0, byReason: {} },
    sessionsPaused: 0,
    reconnections: { total: 0, totalDownMs: 0, maxDownMs: 0, byReason: {} },
    refused: { total: 0, byReason: {} },
    events: [],
  };
  const mark = (e: EventRecord, label: string, bad: boolean) =>
    r.events.length < EVENTS_KEPT && r.events.push({ t: e.ts, label, bad });
  for (const e of [...events].sort((a, b) => a.ts - b.ts)) {
    const d = e.details as { reason?: string; downMs?: number; count?: number };
    // A part of a resumable session that paused to move is not an end: its session goes on.
    if (e.action === 'session.ended' && String(d.reason).startsWith('paused')) r.sessionsPaused++;
    else if (e.action === 'session.ended' && e.outcome !== 'ok') {
      r.sessionsEndedAbnormally.total++;
      add(r.sessionsEndedAbnormally.byReason, String(d.reason ?? 'unknown'));
      mark(e, `${e.appliance}: session ${e.target} ended: ${String(d.reason)}`, true);
    } else if (e.action === 'client.reconnected') {
      const ms = Number(d.downMs) || 0;
      r.reconnections.total++;
      r.reconnections.totalDownMs += ms;
      r.reconnections.maxDownMs = Math.max(r.reconnections.maxDownMs, ms);
      add(r.reconnections.byReason, String(d.reason ?? 'unknown'));
      mark(
        e,
        `${e.appliance}: ${e.target} back after ${(ms / 1000).toFixed(1)} s (${String(d.reason)})`,
        false,
      );
    } else if (e.action === 'client.refused') {
      const n = Number(d.count) || 1;
      r.refused.total += n;
      add(r.refused.byReason, e.target, n);
      mark(e, `${e.appliance}: ${n} connection(s) refused: ${e.target}`, true);
    }
  }
  return r;
}

const reasons = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');

/**
 * The orchestrator's probes say nothing dropped, but the site recorded sessions ending
 * abnormally or clients refused: the two disagree, and the report must not say "nothing".
 */
export function disagreement(
  probes: SessionStats | null,
  site: SiteClientRecords | null,
): string | undefined {
  if (!site) return undefined;
  const probesClean = !probes || (probes.dropped === 0 && probes.newFailed === 0);
  const ended = site.sessionsEndedAbnormally.total;
  if (probesClean && (ended || site.refused.total))
    return `the orchestrator's own sessions saw nothing dropped, but the site recorded ${ended} session(s) ended abnormally and ${site.refused.total} connection(s) refused`;
  if (probes && ended > probes.dropped)
    return `the site recorded ${ended} session(s) ended abnormally, the orchestrator's own sessions ${probes.dropped} dropped`;
  return undefined;
}

/** The report's lines for the site's records (text). */
export function describeSiteRecords(s: SiteClientRecords): string[] {
  const ended = s.sessionsEndedAbnormally;
  const back = s.reconnections;
  return [
    `  site records             ${ended.total} session(s) ended abnormally${ended.total ? ` (${reasons(ended.byReason)})` : ''}; ${s.refused.total} connection(s) refused${s.refused.total ? ` (${reasons(s.refused.byReason)})` : ''}`,
    `                           ${s.sessionsPaused} session part(s) paused to move; ${back.total} client reconnection(s)${back.total ? ` after ${(back.totalDownMs / 1000).toFixed(1)} s away in all, the longest ${(back.maxDownMs / 1000).toFixed(1)} s (${reasons(back.byReason)})` : ''}`,
    ...(s.unread.length
      ? [`                           not read: ${s.unread.join(', ')} (its records are missing)`]
      : []),
  ];
}
