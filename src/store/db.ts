import Database from 'better-sqlite3';

import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { storeErrors } from './error-codes.js';

export type Db = Database.Database;

/**
 * Open the appliance database. WAL with synchronous=FULL: a commit is on disk before the
 * statement returns, so a write acknowledged to a client survives kill -9 and power loss.
 */
export function openDatabase(file: string, options: { readonly?: boolean } = {}): Db {
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: false });
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  cacheStatements(db);
  return db;
}

/**
 * Reuse each prepared statement: callers write `db.prepare(sql)` where they use it, and
 * compiling the same SQL on every request was a tenth of the appliance's CPU under load.
 * (No caller changes a statement's mode with pluck/raw/expand, which would leak between uses.)
 */
function cacheStatements(db: Db): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  }) as Db['prepare'];
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Bring the schema to the version this code expects; refuse a database from newer code. */
export function migrate(db: Db): { from: number; to: number } {
  const from = schemaVersion(db);
  if (from > SCHEMA_VERSION) {
    throw storeErrors.STORE_SCHEMA_TOO_NEW(
      `The database has schema version ${from} but this software understands up to ${SCHEMA_VERSION}. ` +
        'Run the newer Gatehouse version that wrote it, or restore a backup made by this version.',
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return { from, to: SCHEMA_VERSION };
}

export function integrityCheck(db: Db): string[] {
  const rows = db.pragma('integrity_check') as { integrity_check: string }[];
  return rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
}
