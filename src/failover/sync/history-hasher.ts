import { createHash, type Hash } from 'node:crypto';
import type { Db } from '../../store/db.js';
import { MERGED_SITE_TABLES } from '../../store/migrations.js';
import { historyIds, quoteIdentifier as q, type HistoryIds, type MergedTable } from './snapshot.js';

const CHANGED_FN = 'gatehouse_sync_history_changed';
/** Digests at past high-water marks kept per table (a puller asks from the last one it got). */
const MARKS_KEPT = 16;
const EMPTY = createHash('sha256').digest('hex');

interface Running {
  /** `data_version` and `schema_version` when last extended (see row-hasher.ts). */
  stamp: string;
  key: string;
  /** The hash of every id up to rowid `through`, in rowid order. */
  hash: Hash;
  through: number;
  /** Digests of the ids up to earlier values of `through`. */
  marks: Map<number, string>;
}

/**
 * The history tables' id digests (see `historyIds`), kept running: history only gains rows
 * with higher rowids, so each manifest hashes only the ids added since the last one instead of
 * every event ever logged. A TEMP trigger reports this connection's changes; anything but an
 * append after the last hashed rowid, or a commit by another connection, starts over from a
 * full scan.
 */
export class HistoryHasher {
  private readonly running = new Map<MergedTable, Running>();

  constructor(private readonly db: Db) {
    db.function(CHANGED_FN, { deterministic: false }, (table, rowid) => {
      const r = this.running.get(table as MergedTable);
      if (r && (rowid === null || Number(rowid) <= r.through))
        this.running.delete(table as MergedTable);
      return null;
    });
    for (const table of MERGED_SITE_TABLES) {
      const name = (op: string) => q(`gatehouse_sync_${table}_${op}`);
      const on = `main.${q(table)}`;
      const lit = `'${table}'`;
      db.exec(`
        CREATE TEMP TRIGGER IF NOT EXISTS ${name('insert')} AFTER INSERT ON ${on}
          BEGIN SELECT ${CHANGED_FN}(${lit}, NEW.rowid); END;
        CREATE TEMP TRIGGER IF NOT EXISTS ${name('update')} AFTER UPDATE ON ${on}
          BEGIN SELECT ${CHANGED_FN}(${lit}, NULL); END;
        CREATE TEMP TRIGGER IF NOT EXISTS ${name('delete')} AFTER DELETE ON ${on}
          BEGIN SELECT ${CHANGED_FN}(${lit}, NULL); END;`);
    }
  }

  /** As `historyIds(db, table, key, since)`, from the running digest where it can. */
  ids(table: MergedTable, key: string, since: number): HistoryIds {
    const stamp = `${String(this.db.pragma('data_version', { simple: true }))}:${String(this.db.pragma('schema_version', { simple: true }))}`;
    let r = this.running.get(table);
    if (!r || r.stamp !== stamp || r.key !== key) {
      // Start over: hash every id, and keep the digest running from the last one.
      r = { stamp, key, hash: createHash('sha256'), through: 0, marks: new Map([[0, EMPTY]]) };
      this.running.set(table, r);
    }
    this.extend(r, table, r.through);
    const digest = r.hash.copy().digest('hex');
    const sinceDigest = since >= r.through ? digest : r.marks.get(since);
    if (sinceDigest === undefined) return historyIds(this.db, table, key, since);
    const ids = this.db
      .prepare(`SELECT ${q(key)} FROM ${q(table)} WHERE rowid > ? ORDER BY rowid`)
      .pluck()
      .all(since) as string[];
    r.marks.set(r.through, digest);
    // Mark 0 (nothing held yet) stays; the oldest other mark goes.
    if (r.marks.size > MARKS_KEPT) r.marks.delete([...r.marks.keys()][1]!);
    return { ids, sinceDigest, through: r.through, digest };
  }

  private extend(r: Running, table: MergedTable, after: number): void {
    for (const [rowid, id] of this.db
      .prepare(`SELECT rowid, ${q(r.key)} FROM ${q(table)} WHERE rowid > ? ORDER BY rowid`)
      .raw()
      .iterate(after) as IterableIterator<[number, string]>) {
      r.hash.update(`${id}\n`);
      r.through = rowid;
    }
  }
}
