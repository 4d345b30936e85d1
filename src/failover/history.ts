import type { Db } from '../store/db.js';
import type { FailoverRole, PeerState } from './relationship-types.js';
import { readApplianceSetting, writeApplianceSetting } from '../store/appliance-settings.js';

/**
 * A run of identical peer status checks: the heartbeats from `from` to `to` that all saw the
 * peer the same way (reachable or not, in which role, with which error).
 */
export interface CheckRun {
  kind: 'checks';
  from: number;
  to: number;
  checks: number;
  reachable: boolean;
  peerRole: FailoverRole | null;
  error: string | null;
}

/** A change of this appliance's role or generation, with the event that made it. */
export interface RoleEntry {
  kind: 'role';
  at: number;
  action: string;
  role: FailoverRole;
  generation: number | null;
  peer: string | null;
}

export type HistoryEntry = CheckRun | RoleEntry;

const KEY = 'failover.history';
/** Entries kept: a heartbeat every few seconds that sees the same thing extends one entry. */
export const HISTORY_MAX = 200;
/** How stale the persisted end of the current run may be (it is written at each change). */
const SAVE_EVERY_MS = 60_000;

/**
 * Management > Failover's status history: peer status checks and role changes over time,
 * bounded, in appliance_settings (this appliance's own view; never synchronised) so that it
 * outlives a restart.
 */
export class FailoverHistory {
  private entries: HistoryEntry[] | undefined;
  private savedAt = 0;

  constructor(private readonly db: Db) {}

  private all(): HistoryEntry[] {
    if (!this.entries) {
      this.entries = readApplianceSetting<HistoryEntry[]>(this.db, KEY) ?? [];
    }
    return this.entries;
  }

  private save(now: number): void {
    if (!this.db.open) return;
    writeApplianceSetting(this.db, KEY, this.all(), now);
    this.savedAt = now;
  }

  private push(entry: HistoryEntry, now: number): void {
    const all = this.all();
    all.push(entry);
    if (all.length > HISTORY_MAX) all.splice(0, all.length - HISTORY_MAX);
    this.save(now);
  }

  /** One heartbeat's outcome: extends the current run, or starts a new one. */
  check(state: PeerState, now = Date.now()): void {
    const seen = {
      reachable: state.reachable,
      peerRole: state.role ?? null,
      error: state.reachable ? null : (state.error?.code ?? 'UNREACHABLE'),
    };
    const last = [...this.all()].reverse().find((e): e is CheckRun => e.kind === 'checks');
    const current = this.all().at(-1) === last;
    if (
      last &&
      current &&
      last.reachable === seen.reachable &&
      last.peerRole === seen.peerRole &&
      last.error === seen.error
    ) {
      last.to = now;
      last.checks++;
      if (now - this.savedAt >= SAVE_EVERY_MS) this.save(now);
      return;
    }
    this.push({ kind: 'checks', from: now, to: now, checks: 1, ...seen }, now);
  }

  /** A role or generation change (called inside the transaction that stores it). */
  role(entry: Omit<RoleEntry, 'kind' | 'at'>, now = Date.now()): void {
    this.push({ kind: 'role', at: now, ...entry }, now);
  }

  /** Newest first. */
  list(): HistoryEntry[] {
    return [...this.all()].reverse().map((e) => ({ ...e }));
  }
}
