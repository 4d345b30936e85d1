import type { MergedTable, ReplacedTable } from './snapshot.js';

/** One replaced table's buckets that differ: the peer's rows and this appliance's, bucket by bucket. */
export interface BucketDiff {
  table: ReplacedTable;
  theirs: [key: string, hash: string][][];
  mine: [key: string, hash: string][][];
}

export interface SyncPlan {
  /** Keys of rows to fetch from the peer, per table (changed or missing here). */
  fetch: { table: ReplacedTable | MergedTable; keys: string[] }[];
  /** Rows to delete here (replaced tables only: the peer no longer has them). */
  delete: { table: ReplacedTable; keys: string[] }[];
}

/**
 * The sync differ: within the buckets whose digests differ, replaced tables fetch the rows
 * whose hash differs or that are missing here and delete the rows the peer lacks; history
 * tables fetch the ids they lack.
 */
export function planSync(
  replaced: BucketDiff[],
  merged: { table: MergedTable; missing: string[] }[],
): SyncPlan {
  const plan: SyncPlan = { fetch: [], delete: [] };
  for (const d of replaced) {
    const keys: string[] = [];
    const gone: string[] = [];
    d.theirs.forEach((rows, i) => {
      const mine = new Map(d.mine[i]);
      const theirs = new Set<string>();
      for (const [k, h] of rows) {
        theirs.add(k);
        if (mine.get(k) !== h) keys.push(k);
      }
      for (const k of mine.keys()) if (!theirs.has(k)) gone.push(k);
    });
    if (keys.length) plan.fetch.push({ table: d.table, keys });
    if (gone.length) plan.delete.push({ table: d.table, keys: gone });
  }
  for (const m of merged)
    if (m.missing.length) plan.fetch.push({ table: m.table, keys: m.missing });
  return plan;
}

export const planRowCount = (p: SyncPlan) =>
  p.fetch.reduce((n, f) => n + f.keys.length, 0) + p.delete.reduce((n, d) => n + d.keys.length, 0);
