import type { SyncManifest, SyncMode } from './protocol.js';
import type { MergedTable, ReplacedTable } from './snapshot.js';

/** What this appliance holds, in the peer's terms: row hashes of replaced tables, history ids. */
export interface LocalState {
  replaced: Partial<Record<ReplacedTable, Map<string, string>>>;
  merged: Partial<Record<MergedTable, Set<string>>>;
}

export interface SyncPlan {
  /** Keys of rows to fetch from the peer, per table (changed or missing here). */
  fetch: { table: ReplacedTable | MergedTable; keys: string[] }[];
  /** Rows to delete here (replaced tables only: the peer no longer has them). */
  delete: { table: ReplacedTable; keys: string[] }[];
}

/**
 * The sync differ: compares the peer's manifest with what this appliance holds. Replaced
 * tables become exactly the peer's (in mirror mode only); history tables only gain rows by id.
 */
export function planSync(remote: SyncManifest, local: LocalState, mode: SyncMode): SyncPlan {
  const plan: SyncPlan = { fetch: [], delete: [] };
  if (mode === 'mirror') {
    for (const [table, t] of Object.entries(remote.replaced) as [
      ReplacedTable,
      SyncManifest['replaced'][ReplacedTable],
    ][]) {
      const mine = local.replaced[table] ?? new Map<string, string>();
      const keys = t.rows.filter(([k, h]) => mine.get(k) !== h).map(([k]) => k);
      const theirs = new Set(t.rows.map(([k]) => k));
      const gone = [...mine.keys()].filter((k) => !theirs.has(k));
      if (keys.length) plan.fetch.push({ table, keys });
      if (gone.length) plan.delete.push({ table, keys: gone });
    }
  }
  for (const [table, t] of Object.entries(remote.merged) as [
    MergedTable,
    SyncManifest['merged'][MergedTable],
  ][]) {
    const mine = local.merged[table] ?? new Set<string>();
    const keys = t.ids.filter((id) => !mine.has(id));
    if (keys.length) plan.fetch.push({ table, keys });
  }
  return plan;
}

export const planRowCount = (p: SyncPlan) =>
  p.fetch.reduce((n, f) => n + f.keys.length, 0) + p.delete.reduce((n, d) => n + d.keys.length, 0);
