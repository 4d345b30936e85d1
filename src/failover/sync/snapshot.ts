import { createHash } from 'node:crypto';
import type { Db } from '../../store/db.js';
import { GatehouseError } from '../../shared/errors.js';
import { MERGED_SITE_TABLES, REPLACED_SITE_TABLES } from '../../store/migrations.js';

export type ReplacedTable = (typeof REPLACED_SITE_TABLES)[number];
export type MergedTable = (typeof MERGED_SITE_TABLES)[number];
export type SyncedTable = ReplacedTable | MergedTable;

/** A table as the sync sees it: its primary key and its columns in declared order. */
export interface TableShape {
  key: string;
  columns: string[];
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export function tableShape(db: Db, table: SyncedTable): TableShape {
  const info = db.pragma(`table_info(${quote(table)})`) as { name: string; pk: number }[];
  const key = info.find((c) => c.pk === 1)?.name;
  if (!key) throw new Error(`site table ${table} has no primary key`);
  return { key, columns: info.map((c) => c.name) };
}

/**
 * The peer's columns must all exist here: a primary runs the same schema or an older one (the
 * version check refused a newer one before this is asked).
 */
export function checkColumns(db: Db, table: SyncedTable, shape: TableShape): void {
  const local = tableShape(db, table);
  const unknown = shape.columns.filter((c) => !local.columns.includes(c));
  if (unknown.length || shape.key !== local.key)
    throw new GatehouseError(
      'SYNC_SCHEMA_MISMATCH',
      409,
      `The peer's ${table} table has columns this appliance does not know (${unknown.join(', ') || shape.key}). Upgrade this appliance to the peer's version, then sync again.`,
    );
}

/** SQL that yields each row's key and canonical JSON (SQLite's json_array in column order). */
function rowsSql(table: SyncedTable, shape: TableShape, where = ''): string {
  return `SELECT ${quote(shape.key)} AS k, json_array(${shape.columns.map(quote).join(', ')}) AS j FROM ${quote(table)} ${where} ORDER BY ${quote(shape.key)}`;
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Row hashes of the replaced tables: sha256 of each row's canonical JSON. Hashing every row of
 * a large file store on each sync is the dominant cost, so the last hash of each row is kept
 * with the JSON it was computed from and reused while the row is unchanged.
 */
export class RowHasher {
  private readonly memo = new Map<string, Map<string, [json: string, hash: string]>>();

  constructor(private readonly db: Db) {}

  /** `[key, hash]` of every row, ordered by key (SQLite's order, the same on both sides). */
  hashes(table: SyncedTable, shape: TableShape): [string, string][] {
    const memoKey = `${table}\n${shape.columns.join(',')}`;
    const old = this.memo.get(memoKey) ?? new Map<string, [string, string]>();
    const fresh = new Map<string, [string, string]>();
    const out: [string, string][] = [];
    for (const r of this.db.prepare(rowsSql(table, shape)).iterate() as IterableIterator<{
      k: string;
      j: string;
    }>) {
      const prev = old.get(r.k);
      const hash = prev && prev[0] === r.j ? prev[1] : sha256(r.j);
      fresh.set(r.k, [r.j, hash]);
      out.push([r.k, hash]);
    }
    this.memo.set(memoKey, fresh);
    return out;
  }
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

/** Digest of the replaced tables: per table, every row's key and hash in key order. */
export function replacedDigest(tables: { table: string; rows: [string, string][] }[]): string {
  const h = createHash('sha256');
  for (const t of tables) {
    h.update(`table ${t.table}\n`);
    for (const [k, hash] of t.rows) h.update(`${k}\t${hash}\n`);
  }
  return h.digest('hex');
}

/** Digest of the history tables: per table, the ids present, in key order. */
export function mergedDigest(tables: { table: string; ids: string[] }[]): string {
  const h = createHash('sha256');
  for (const t of tables) {
    h.update(`table ${t.table}\n`);
    for (const id of t.ids) h.update(`${id}\n`);
  }
  return h.digest('hex');
}

export { quote as quoteIdentifier };
