import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export interface SpooledMessage {
  seq: number;
  /** The framed message, ready to write. */
  data: string;
}

/**
 * Messages waiting for the syslog collector, on disk so that a collector that is down (or an
 * appliance restart) loses none. Bounded: past `max` messages the oldest are dropped and
 * counted. Kept in a database file of its own: it is neither site data nor synchronised.
 */
export class SyslogSpool {
  private readonly db: Database.Database;
  private readonly insert;
  private readonly oldest;
  private readonly remove;
  private readonly trim;
  private readonly size;
  private count: number;
  /** Dropped since this process started (a counter for Prometheus). */
  dropped = 0;

  constructor(
    file: string,
    private readonly max: () => number,
  ) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY, data TEXT NOT NULL)');
    this.insert = this.db.prepare('INSERT INTO spool (data) VALUES (?)');
    this.oldest = this.db.prepare('SELECT seq, data FROM spool ORDER BY seq LIMIT ?');
    this.remove = this.db.prepare('DELETE FROM spool WHERE seq = ?');
    this.trim = this.db.prepare(
      'DELETE FROM spool WHERE seq IN (SELECT seq FROM spool ORDER BY seq LIMIT ?)',
    );
    this.size = this.db.prepare('SELECT count(*) AS n FROM spool');
    this.count = (this.size.get() as { n: number }).n;
  }

  get length(): number {
    return this.count;
  }

  push(data: string): void {
    this.insert.run(data);
    this.count++;
    const over = this.count - this.max();
    if (over > 0) {
      this.count -= this.trim.run(over).changes;
      this.dropped += over;
    }
  }

  /** The oldest `n` messages, in the order they were pushed. */
  peek(n: number): SpooledMessage[] {
    return this.oldest.all(n) as SpooledMessage[];
  }

  /** A message was handed to the collector's connection. */
  delivered(seq: number): void {
    this.count -= this.remove.run(seq).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
