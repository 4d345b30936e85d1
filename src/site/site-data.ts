import type { Db } from '../store/db.js';
import {
  APPLIANCE_TABLES,
  MERGED_SITE_TABLES,
  REPLACED_SITE_TABLES,
  SITE_TABLES,
} from '../store/migrations.js';
import { keepRevocations } from './keep-revocations.js';

/**
 * The one copier of site data: every path that brings the site's tables from elsewhere (a
 * backup's restore, a failover sync, a cluster's configuration push and history pull) writes
 * them through this module, which knows which tables are replaced (the source's state wins)
 * and which are merged by identity (history: no record is ever lost). Content comes first:
 * each caller stores the blobs rows name before it calls in here, and calls inside one
 * transaction, so a reader sees the old site data or the new.
 *
 * Writing rows as a whole keeps the rules the database holds (the triggers that count
 * configuration changes and revocations, which the cluster and the failover backup follow);
 * the rules a restore adds (revocations since the backup stay) are `keepRevocations`.
 * `test/architecture.test.ts` fails on SQL that writes a site table outside this module and
 * the table's own domain service.
 */

export type SiteTable = (typeof SITE_TABLES)[number];
export type ReplacedTable = (typeof REPLACED_SITE_TABLES)[number];
export type MergedTable = (typeof MERGED_SITE_TABLES)[number];

export const isMergedTable = (table: string): table is MergedTable =>
  (MERGED_SITE_TABLES as readonly string[]).includes(table);

export const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`;
const q = quoteIdentifier;

/** A table's primary key and its columns in declared order. */
export interface TableShape {
  key: string;
  columns: string[];
}

export function tableShape(db: Db, table: SiteTable): TableShape {
  const info = db.pragma(`table_info(${q(table)})`) as { name: string; pk: number }[];
  const key = info.find((c) => c.pk === 1)?.name;
  if (!key) throw new Error(`site table ${table} has no primary key`);
  return { key, columns: info.map((c) => c.name) };
}

/** Make a copy of the store (a backup's snapshot) hold the site's data only. */
export function keepSiteDataOnly(copy: Db): void {
  for (const t of APPLIANCE_TABLES) copy.exec(`DELETE FROM ${q(t)}`);
}

/**
 * Restore the site's tables from a backup's database (verified and migrated by the caller):
 * in one transaction the replaced tables become the backup's, history is merged, revocations
 * made since the backup stay (`keepRevocations`), and `inside` runs with the row counts before
 * it commits (a throw there changes nothing).
 */
export function restoreSiteData(
  db: Db,
  backupFile: string,
  backupCreatedAt: number,
  inside: (counts: Record<SiteTable, number>) => void,
): Record<SiteTable, number> {
  const counts = {} as Record<SiteTable, number>;
  db.prepare('ATTACH DATABASE ? AS restore_src').run(backupFile);
  try {
    db.transaction(() => {
      const reapply = keepRevocations(db, backupCreatedAt);
      for (const t of REPLACED_SITE_TABLES) {
        db.exec(`DELETE FROM main.${q(t)}`);
        db.exec(`INSERT INTO main.${q(t)} SELECT * FROM restore_src.${q(t)}`);
      }
      // History is never rolled back: events and session records since the backup stay.
      for (const t of MERGED_SITE_TABLES)
        db.exec(`INSERT OR IGNORE INTO main.${q(t)} SELECT * FROM restore_src.${q(t)}`);
      reapply();
      for (const t of SITE_TABLES)
        counts[t] = (db.prepare(`SELECT count(*) AS n FROM main.${q(t)}`).get() as { n: number }).n;
      inside(counts);
    })();
  } finally {
    db.exec('DETACH DATABASE restore_src');
  }
  return counts;
}

/**
 * Rows in a given column order (a failover sync's): a replaced table's row takes the place of
 * the one with its key, a merged table's is added unless its id is here. Every column must be
 * one of the table's (the caller checked the source's schema). Returns the rows changed.
 */
export function putRows(db: Db, table: SiteTable, columns: string[], values: unknown[][]): number {
  const known = tableShape(db, table).columns;
  const unknown = columns.filter((c) => !known.includes(c));
  if (unknown.length) throw new Error(`site table ${table} has no column ${unknown.join(', ')}`);
  const verb = isMergedTable(table) ? 'INSERT OR IGNORE' : 'INSERT OR REPLACE';
  const insert = db.prepare(
    `${verb} INTO ${q(table)} (${columns.map(q).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
  );
  let n = 0;
  for (const v of values) n += insert.run(...v).changes;
  return n;
}

/** Delete the rows of a replaced table with the given keys (gone at the source). */
export function deleteRows(db: Db, table: ReplacedTable, keys: string[]): void {
  const del = db.prepare(`DELETE FROM ${q(table)} WHERE ${q(tableShape(db, table).key)} = ?`);
  for (const k of keys) del.run(k);
}

/**
 * Replace a table whole with rows as objects (a cluster's configuration push). Only columns
 * both sides know are written: a source of an older release lacks newer columns, which then
 * take their defaults; a column this appliance does not know is left out.
 */
export function replaceTable(
  db: Db,
  table: ReplacedTable,
  rows: readonly Record<string, unknown>[],
): void {
  db.prepare(`DELETE FROM ${q(table)}`).run();
  insertRecords(db, 'INSERT', table, rows);
}

/** Merge history rows as objects by identity (a cluster's history pull); as `replaceTable`. */
export function mergeRecords(
  db: Db,
  table: MergedTable,
  rows: readonly Record<string, unknown>[],
): void {
  insertRecords(db, 'INSERT OR IGNORE', table, rows);
}

function insertRecords(
  db: Db,
  verb: string,
  table: SiteTable,
  rows: readonly Record<string, unknown>[],
): void {
  const known = tableShape(db, table).columns;
  for (const row of rows) {
    const columns = known.filter((c) => c in row);
    db.prepare(
      `${verb} INTO ${q(table)} (${columns.map(q).join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
    ).run(Object.fromEntries(columns.map((c) => [c, row[c]])));
  }
}
