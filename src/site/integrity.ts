import { createHash } from 'node:crypto';
import type { Db } from '../store/db.js';

/** What an integrity snapshot covers: the site's data as the source document lists it (S16). */
export const INTEGRITY_TABLES = [
  'users',
  'site_settings',
  'files',
  'events',
  'session_records',
] as const;

export interface TableIntegrity {
  count: number;
  /** sha256 over every row's canonical JSON, in key order: equal digests, equal content. */
  digest: string;
  /** The row keys (ids, setting keys, file names): what must never disappear. */
  ids?: string[];
}

export interface IntegritySnapshot {
  tables: Record<(typeof INTEGRITY_TABLES)[number], TableIntegrity>;
  recordings: { count: number; digest: string; sha256?: string[] };
}

const KEYS: Record<(typeof INTEGRITY_TABLES)[number], string> = {
  users: 'id',
  site_settings: 'key',
  files: 'name',
  events: 'id',
  session_records: 'id',
};
/** Per-appliance state in users (lockout counters) is not the site's content. */
const VOLATILE: Record<string, string[]> = { users: ['failed_attempts', 'locked_until'] };

/**
 * Counts and digests of the site's data on this appliance, taken before and after an upgrade
 * to prove that nothing was lost: replaced tables must match the primary's, history tables
 * must keep every id they had.
 */
export function integritySnapshot(db: Db, withIds: boolean): IntegritySnapshot {
  const tables = {} as IntegritySnapshot['tables'];
  for (const table of INTEGRITY_TABLES) {
    const columns = (db.pragma(`table_info(${table})`) as { name: string }[])
      .map((c) => c.name)
      .filter((c) => !VOLATILE[table]?.includes(c));
    const hash = createHash('sha256');
    const ids: string[] = [];
    let count = 0;
    for (const row of db
      .prepare(
        `SELECT ${KEYS[table]} AS k, json_array(${columns.join(', ')}) AS j FROM ${table} ORDER BY ${KEYS[table]}`,
      )
      .iterate() as Iterable<{ k: string; j: string }>) {
      hash.update(row.j).update('\n');
      if (withIds) ids.push(String(row.k));
      count++;
    }
    tables[table] = {
      count,
      digest: hash.digest('hex'),
      ...(withIds ? { ids } : {}),
    };
  }
  const shas = (
    db
      .prepare(
        'SELECT DISTINCT recording_sha256 AS s FROM session_records WHERE recording_sha256 IS NOT NULL ORDER BY s',
      )
      .all() as { s: string }[]
  ).map((r) => r.s);
  return {
    tables,
    recordings: {
      count: shas.length,
      digest: createHash('sha256').update(shas.join('\n')).digest('hex'),
      ...(withIds ? { sha256: shas } : {}),
    },
  };
}
