import { SYNC_TABLES, type SyncManifest, type SyncMode } from './protocol.js';
import type { MergedTable, ReplacedTable, SyncedTable, TableShape } from './snapshot.js';
import type { SyncedPosition } from './positions.js';
import type { SyncProgressView } from '../relationship-types.js';

// What one pull of site data (src/failover/sync/puller.ts) carries between its steps.

/**
 * What a puller remembers of one peer between syncs: per history table, the peer's rowid up to
 * which every id is here and the digest of those ids. Forgotten on restart, and ignored every
 * `FULL_RECONCILE_EVERY` syncs, when every id travels again.
 */
export interface HistoryMarks {
  syncs: number;
  tables: Partial<Record<MergedTable, { through: number; digest: string }>>;
}

/** The progress this appliance's puller reports: the page's view, with its own phases and modes. */
export interface SyncProgress extends SyncProgressView {
  phase: 'idle' | 'manifest' | 'rows' | 'blobs' | 'apply' | 'done' | 'failed';
  mode?: SyncMode;
}

export interface PullOutcome {
  rows: Record<string, number>;
  blobs: { fetched: number; bytes: number };
  digest: string;
  /** The peer's change count this sync reached (positions.ts), when the peer sent one. */
  through?: SyncedPosition;
}

/** Rows asked for, or looked up, at a time. */
export const ROW_BATCH = 500;
/** Which columns of a table name a blob the rows need. */
export const BLOB_COLUMNS: Partial<Record<SyncedTable, string>> = {
  files: 'sha256',
  session_records: 'recording_sha256',
};

/** Rows fetched from the peer for one table, in the peer's column order. */
export interface Fetched {
  table: SyncedTable;
  shape: TableShape;
  values: unknown[][];
}

/**
 * The replaced tables the peer sent. An older primary lacks the tables of a later release: those
 * stay as they are here (the backup's own, until the primary runs this release too).
 */
export const replacedOf = (manifest: SyncManifest): ReplacedTable[] =>
  SYNC_TABLES.replaced.filter((t) => manifest.replaced[t] !== undefined);

export function shapeOf(manifest: SyncManifest, table: SyncedTable): TableShape {
  const t =
    (manifest.replaced as Record<string, TableShape>)[table] ??
    (manifest.merged as Record<string, TableShape>)[table];
  return { key: t!.key, columns: t!.columns };
}

export const keyOf = (f: Fetched, v: unknown[]) => String(v[f.shape.columns.indexOf(f.shape.key)]);

/** The blobs `values` (rows of `f.table`) name. */
export function blobsNamed(f: Fetched, values: unknown[][]): string[] {
  const column = BLOB_COLUMNS[f.table];
  const index = column ? f.shape.columns.indexOf(column) : -1;
  if (index < 0) return [];
  return values.flatMap((v) => (typeof v[index] === 'string' ? [v[index]] : []));
}
