import type { Db } from '../../store/db.js';
import { REPLACED_SITE_TABLES } from '../../store/migrations.js';
import {
  BUCKETS,
  bucketDigest,
  bucketOf,
  quoteIdentifier as q,
  rowsSql,
  sha256,
  tableDigest,
  type SyncedTable,
  type TableHashes,
  type TableShape,
} from './snapshot.js';

/** Beyond this many changed rows since the last hashing, a table is scanned again. */
const DIRTY_LIMIT = 2000;
const CHANGED_FN = 'gatehouse_sync_row_changed';

interface Cached extends TableHashes {
  table: SyncedTable;
  /** `data_version` and `schema_version` when hashed: another connection's commit changes it. */
  stamp: string;
  /** Each row's canonical JSON and its hash. */
  rows: Map<string, [json: string, hash: string]>;
  /** Keys this connection changed since (recorded by TEMP triggers); undefined: too many. */
  dirty: Set<string> | undefined;
}

/**
 * Row hashes of the replaced tables (sha256 of each row's canonical JSON, bucketed; see
 * snapshot.ts), kept until the table changes, so an incremental sync neither rescans nor
 * rehashes a table of 10,000 files on either side. Changes made through this connection (the
 * only one that writes while the appliance runs) are recorded per key by TEMP triggers, and
 * only those rows are read again; a commit by any other connection (seen in
 * `PRAGMA data_version`), a schema change or a row count that disagrees (a REPLACE that
 * removed another row fires no delete trigger) falls back to a full scan, which still reuses
 * the hash of each row whose JSON is unchanged.
 */
export class RowHasher {
  private readonly cache = new Map<string, Cached>();
  /** Tables whose key uses BINARY collation, so a bucket can be re-sorted here as SQLite does. */
  private readonly tracked = new Set<string>();

  constructor(private readonly db: Db) {
    db.function(CHANGED_FN, { varargs: true, deterministic: false }, (table, ...keys) => {
      for (const c of this.cache.values())
        if (c.table === table && c.dirty)
          for (const k of keys) {
            if (k === null || k === undefined) continue;
            c.dirty.add(String(k as string));
            if (c.dirty.size > DIRTY_LIMIT) {
              c.dirty = undefined;
              break;
            }
          }
      return null;
    });
    for (const table of REPLACED_SITE_TABLES) this.track(table);
  }

  private track(table: SyncedTable): void {
    const pk = this.db
      .prepare(
        `SELECT x.name AS name, x.coll AS coll FROM pragma_index_list(?) AS l, pragma_index_xinfo(l.name) AS x WHERE l.origin = 'pk' AND x.key = 1`,
      )
      .all(table) as { name: string; coll: string }[];
    if (pk.length !== 1 || pk[0]!.coll !== 'BINARY') return;
    const key = q(pk[0]!.name);
    const name = (op: string) => q(`gatehouse_sync_${table}_${op}`);
    const on = `main.${q(table)}`;
    const lit = `'${table.replace(/'/g, "''")}'`;
    this.db.exec(`
      CREATE TEMP TRIGGER IF NOT EXISTS ${name('insert')} AFTER INSERT ON ${on}
        BEGIN SELECT ${CHANGED_FN}(${lit}, NEW.${key}); END;
      CREATE TEMP TRIGGER IF NOT EXISTS ${name('update')} AFTER UPDATE ON ${on}
        BEGIN SELECT ${CHANGED_FN}(${lit}, OLD.${key}, NEW.${key}); END;
      CREATE TEMP TRIGGER IF NOT EXISTS ${name('delete')} AFTER DELETE ON ${on}
        BEGIN SELECT ${CHANGED_FN}(${lit}, OLD.${key}); END;`);
    this.tracked.add(table);
  }

  private stamp(): string {
    return `${String(this.db.pragma('data_version', { simple: true }))}:${String(this.db.pragma('schema_version', { simple: true }))}`;
  }

  table(table: SyncedTable, shape: TableShape): TableHashes {
    const cacheKey = `${table}\n${shape.key}\n${shape.columns.join(',')}`;
    const stamp = this.stamp();
    const cached = this.cache.get(cacheKey);
    let fresh: Cached | undefined;
    if (cached && cached.stamp === stamp && cached.dirty && this.tracked.has(table))
      fresh = cached.dirty.size ? this.update(cached, shape) : cached;
    fresh ??= this.scan(table, shape, stamp, cached?.rows);
    this.cache.set(cacheKey, fresh);
    return fresh;
  }

  /** Forget every hash: a transaction that read them rolled back. */
  forget(): void {
    this.cache.clear();
  }

  private scan(
    table: SyncedTable,
    shape: TableShape,
    stamp: string,
    old = new Map<string, [string, string]>(),
  ): Cached {
    const rows = new Map<string, [string, string]>();
    const buckets = Array.from({ length: BUCKETS }, () => [] as [string, string][]);
    for (const r of this.db.prepare(rowsSql(table, shape)).iterate() as IterableIterator<{
      k: string;
      j: string;
    }>) {
      const prev = old.get(r.k);
      const hash = prev && prev[0] === r.j ? prev[1] : sha256(r.j);
      rows.set(r.k, [r.j, hash]);
      buckets[bucketOf(r.k)]!.push([r.k, hash]);
    }
    const bucketDigests = buckets.map(bucketDigest);
    return {
      table,
      stamp,
      rows,
      dirty: new Set(),
      buckets,
      bucketDigests,
      digest: tableDigest(bucketDigests),
    };
  }

  /** Read again only the rows changed since `c` was hashed; undefined if that is not enough. */
  private update(c: Cached, shape: TableShape): Cached | undefined {
    const keys = [...c.dirty!];
    const now = new Map<string, string>();
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500);
      const where = `WHERE ${q(shape.key)} IN (${batch.map(() => '?').join(', ')})`;
      for (const r of this.db.prepare(rowsSql(c.table, shape, where)).all(...batch) as {
        k: string;
        j: string;
      }[])
        now.set(r.k, r.j);
    }
    const rows = c.rows;
    const touched = new Set<number>();
    for (const k of keys) {
      const j = now.get(k);
      if (j === undefined) rows.delete(k);
      else rows.set(k, [j, rows.get(k)?.[0] === j ? rows.get(k)![1] : sha256(j)]);
      touched.add(bucketOf(k));
    }
    const count = this.db
      .prepare(`SELECT count(*) FROM ${q(c.table)}`)
      .pluck()
      .get() as number;
    if (count !== rows.size) return undefined;
    const buckets = c.buckets.slice();
    const bucketDigests = c.bucketDigests.slice();
    for (const b of touched) {
      const inBucket = new Set(c.buckets[b]!.map(([k]) => k));
      for (const k of keys) if (bucketOf(k) === b) inBucket.add(k);
      const next: [string, string][] = [];
      for (const k of inBucket) {
        const row = rows.get(k);
        if (row) next.push([k, row[1]]);
      }
      next.sort(([x], [y]) => binaryOrder(x, y));
      buckets[b] = next;
      bucketDigests[b] = bucketDigest(next);
    }
    return {
      table: c.table,
      stamp: c.stamp,
      rows,
      dirty: new Set(),
      buckets,
      bucketDigests,
      digest: tableDigest(bucketDigests),
    };
  }
}

/** SQLite's BINARY collation of text: the order of the UTF-8 bytes. */
const binaryOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
