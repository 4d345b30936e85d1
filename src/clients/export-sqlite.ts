import Database from 'better-sqlite3';

import type { ExportedEvent } from './export-folder.js';
import type { SessionRecord } from '../sessions/session-records.js';
import { clientsErrors } from './error-codes.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS session_records (
  id TEXT PRIMARY KEY,
  appliance TEXT NOT NULL,
  representative TEXT NOT NULL,
  jump_client TEXT NOT NULL,
  target TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  bytes_in INTEGER NOT NULL,
  bytes_out INTEGER NOT NULL,
  recording_sha256 TEXT,
  recording_size INTEGER,
  recording_file TEXT
);
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  ts INTEGER NOT NULL,
  appliance TEXT NOT NULL,
  area TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  details TEXT NOT NULL,
  scope TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS session_records_ended ON session_records (ended_at);
`;

/**
 * The optional SQLite copy of an export (`--sqlite FILE`): the same session records and events
 * as the folder, upserted by id so that re-runs and overlapping windows never duplicate a row.
 */
export class ExportDatabase {
  private readonly db: Database.Database;
  private readonly upsertSession;
  private readonly upsertEvent;

  constructor(readonly file: string) {
    try {
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(SCHEMA);
      // A file from an export of a previous release has no scope column yet.
      const columns = this.db.prepare('PRAGMA table_info(events)').all() as { name: string }[];
      if (!columns.some((c) => c.name === 'scope'))
        this.db.exec('ALTER TABLE events ADD COLUMN scope TEXT');
    } catch (e) {
      throw clientsErrors.EXPORT_SQLITE_UNUSABLE(
        `--sqlite: ${file} cannot be opened as a SQLite database (${(e as Error).message}). Give a new file name or an earlier export's database.`,
        { fields: [{ field: '--sqlite', message: 'is not a usable SQLite file' }] },
      );
    }
    this.upsertSession = this.db.prepare(
      `INSERT INTO session_records (id, appliance, representative, jump_client, target, started_at,
         ended_at, bytes_in, bytes_out, recording_sha256, recording_size, recording_file)
       VALUES (@id, @appliance, @representative, @jumpClient, @target, @startedAt, @endedAt,
         @bytesIn, @bytesOut, @recordingSha256, @recordingSize, @recordingFile)
       ON CONFLICT (id) DO UPDATE SET appliance = excluded.appliance,
         representative = excluded.representative, jump_client = excluded.jump_client,
         target = excluded.target, started_at = excluded.started_at, ended_at = excluded.ended_at,
         bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out,
         recording_sha256 = excluded.recording_sha256, recording_size = excluded.recording_size,
         recording_file = excluded.recording_file`,
    );
    this.upsertEvent = this.db.prepare(
      `INSERT INTO events (id, ts, appliance, area, actor, action, target, outcome, details, scope)
       VALUES (@id, @ts, @appliance, @area, @actor, @action, @target, @outcome, @details, @scope)
       ON CONFLICT (id) DO UPDATE SET ts = excluded.ts, appliance = excluded.appliance,
         area = excluded.area, actor = excluded.actor, action = excluded.action,
         target = excluded.target, outcome = excluded.outcome, details = excluded.details,
         scope = excluded.scope`,
    );
  }

  /** `recordingFile` is the path relative to the export folder, or null without a recording. */
  sessions(rows: (SessionRecord & { recordingFile: string | null })[]): void {
    this.db.transaction(() => {
      for (const r of rows) this.upsertSession.run(r);
    })();
  }

  events(rows: ExportedEvent[]): void {
    this.db.transaction(() => {
      for (const e of rows) this.upsertEvent.run({ ...e, details: JSON.stringify(e.details) });
    })();
  }

  close(): void {
    this.db.close();
  }
}
