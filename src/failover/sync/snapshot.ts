import { createHash } from 'node:crypto';
import type { Db } from '../../store/db.js';

import {
  quoteIdentifier as quote,
  tableShape,
  type MergedTable,
  type ReplacedTable,
  type TableShape,
} from '../../site/site-data.js';
import { failoverErrors } from '../error-codes.js';

export type { MergedTable, ReplacedTable, TableShape };
export { tableShape };
export type SyncedTable = ReplacedTable | MergedTable;

/**
 * The peer's columns must all exist here: a primary runs the same schema or an older one (the
 * version check refused a newer one before this is asked).
 */
export function checkColumns(db: Db, table: SyncedTable, shape: TableShape): void {
  const local = tableShape(db, table);
  const unknown = shape.columns.filter((c) => !local.columns.includes(c));
  if (unknown.length || shape.key !== local.key)
    throw failoverErrors.SYNC_SCHEMA_MISMATCH(
      `The peer's ${table} table has columns this appliance does not know (${unknown.join(', ') || shape.key}). Upgrade this appliance to the peer's version, then sync again.`,
    );
}

/** SQL that yields each row's key and canonical JSON (SQLite's json_array in column order). */
export function rowsSql(table: SyncedTable, shape: TableShape, where = ''): string {
  return `SELECT ${quote(shape.key)} AS k, json_array(${shape.columns.map(quote).join(', ')}) AS j FROM ${quote(table)} ${where} ORDER BY ${quote(shape.key)}`;
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Rows of a replaced table fall into this many buckets by a hash of their key. */
export const BUCKETS = 256;

/** A row's bucket: FNV-1a of its key's UTF-16 code units, the same on both sides. */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % BUCKETS;
}

/** Digest of one bucket: its rows' keys and hashes in key order. */
export function bucketDigest(rows: [string, string][]): string {
  let text = '';
  for (const [k, hash] of rows) text += `${k}\t${hash}\n`;
  return sha256(text);
}

/** Digest of a table: its bucket digests in bucket order. */
export const tableDigest = (bucketDigests: string[]) => sha256(bucketDigests.join('\n'));

/** A replaced table's rows as `[key, hash]`, split into buckets, with their digests. */
export interface TableHashes {
  buckets: [string, string][][];
  bucketDigests: string[];
  digest: string;
}

/** The canonical JSON of the rows with the given keys (what travels, and what is hashed). */
export function rowsByKey(db: Db, table: SyncedTable, shape: TableShape, keys: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    const where = `WHERE ${quote(shape.key)} IN (${batch.map(() => '?').join(', ')})`;
    for (const r of db.prepare(rowsSql(table, shape, where)).all(...batch) as { j: string }[])
      out.push(r.j);
  }
  return out;
}

/** Every key of a table, in SQLite's order. */
export function keysOf(db: Db, table: SyncedTable, key: string): string[] {
  return (
    db.prepare(`SELECT ${quote(key)} AS k FROM ${quote(table)} ORDER BY ${quote(key)}`).all() as {
      k: string;
    }[]
  ).map((r) => r.k);
}

/** Digest of the replaced tables: per table, its table digest. */
export function replacedDigest(tables: { table: string; digest: string }[]): string {
  return sha256(tables.map((t) => `table ${t.table}\n${t.digest}\n`).join(''));
}

/** Digest of the history tables: per table, its ids digest (see `HistoryIds`). */
export function mergedDigest(tables: { table: string; digest: string }[]): string {
  return sha256(tables.map((t) => `table ${t.table}\n${t.digest}\n`).join(''));
}

/** A history table's ids after a rowid, with digests of its ids in rowid order. */
export interface HistoryIds {
  /** Ids of the rows after `since`, in rowid order. */
  ids: string[];
  /** Digest of the ids up to and including rowid `since`. */
  sinceDigest: string;
  /** The last rowid, and the digest of every id up to it. */
  through: number;
  digest: string;
}

/**
 * Ids of a history table after rowid `since`. Rows only gain higher rowids, so a puller that
 * holds every id up to `since` (and sees `sinceDigest` unchanged) needs only the rest.
 */
export function historyIds(db: Db, table: SyncedTable, key: string, since: number): HistoryIds {
  const h = createHash('sha256');
  let sinceDigest: string | undefined;
  let through = 0;
  const ids: string[] = [];
  for (const r of db
    .prepare(`SELECT rowid AS r, ${quote(key)} AS k FROM ${quote(table)} ORDER BY rowid`)
    .raw()
    .iterate() as IterableIterator<[number, string]>) {
    if (r[0] > since) {
      sinceDigest ??= h.copy().digest('hex');
      ids.push(r[1]);
    }
    h.update(`${r[1]}\n`);
    through = r[0];
  }
  const digest = h.digest('hex');
  return { ids, sinceDigest: sinceDigest ?? digest, through, digest };
}

/** Which of `ids` this table lacks. */
export function missingIds(db: Db, table: SyncedTable, key: string, ids: string[]): string[] {
  const missing: string[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const batch = ids.slice(i, i + 500);
    const here = new Set(
      db
        .prepare(
          `SELECT ${quote(key)} FROM ${quote(table)} WHERE ${quote(key)} IN (${batch.map(() => '?').join(', ')})`,
        )
        .pluck()
        .all(...batch) as string[],
    );
    for (const id of batch) if (!here.has(id)) missing.push(id);
  }
  return missing;
}

export { quote as quoteIdentifier };
