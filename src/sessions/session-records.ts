import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

import type { EventLog } from '../site/events.js';
import type { BlobInfo, BlobStore } from '../store/blobs.js';
import type { Db } from '../store/db.js';
import { parseRecording, type RecordingHeader } from './recording.js';
import { sessionsErrors } from './error-codes.js';

export interface SessionRecord {
  id: string;
  /** The appliance that relayed the session. */
  appliance: string;
  representative: string;
  jumpClient: string;
  target: string;
  startedAt: number;
  endedAt: number | null;
  /** Bytes from the remote computer to the console. */
  bytesIn: number;
  /** Bytes from the console to the remote computer. */
  bytesOut: number;
  recordingSha256: string | null;
  recordingSize: number | null;
  /** A resumable session's part: the times the session moved before it, and its total pause. */
  moves: number;
  pausedMs: number;
}

interface Row {
  id: string;
  appliance: string;
  representative: string;
  jump_client: string;
  target: string;
  started_at: number;
  ended_at: number | null;
  bytes_in: number;
  bytes_out: number;
  recording_sha256: string | null;
  recording_size: number | null;
  moves: number;
  paused_ms: number;
}

const toRecord = (r: Row): SessionRecord => ({
  id: r.id,
  appliance: r.appliance,
  representative: r.representative,
  jumpClient: r.jump_client,
  target: r.target,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  bytesIn: r.bytes_in,
  bytesOut: r.bytes_out,
  recordingSha256: r.recording_sha256,
  recordingSize: r.recording_size,
  moves: r.moves,
  pausedMs: r.paused_ms,
});

export interface SessionEnd {
  endedAt: number;
  bytesIn: number;
  bytesOut: number;
  /** Why it ended: `closed` by either side, or what failed. */
  reason: string;
}

/**
 * Session records: one row per completed session with its recording in the blob store. A
 * record is written once, when the session ends, so that records merge by identity between
 * failover peers and flow from traffic nodes to the primary node without later changes.
 */
export class SessionRecords {
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly events: EventLog,
    private readonly activeDir: string,
  ) {}

  /**
   * Store a finished session: its recording durable in the blob store (linked, not copied: a
   * gigabyte relayed is not written twice), then its record; only then is the active file gone.
   * `written`: the recording's hash and size as its writer made it durable (not read again).
   */
  async complete(
    header: RecordingHeader,
    end: SessionEnd,
    recordingPath: string,
    written?: BlobInfo,
  ): Promise<void> {
    const blob = await this.blobs.adopt(recordingPath, written);
    try {
      this.db.transaction(() => {
        this.db
          .prepare(
            `INSERT OR IGNORE INTO session_records (id, appliance, representative, jump_client, target,
               started_at, ended_at, bytes_in, bytes_out, recording_sha256, recording_size, moves,
               paused_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            header.session,
            header.appliance,
            header.representative,
            header.jumpClient,
            header.target,
            header.startedAt,
            end.endedAt,
            end.bytesIn,
            end.bytesOut,
            blob.sha256,
            blob.size,
            header.moves ?? 0,
            Math.round(header.pausedMs ?? 0),
          );
        this.events.record(
          { area: 'login', name: header.representative },
          'session.ended',
          header.session,
          {
            jumpClient: header.jumpClient,
            target: header.target,
            bytesIn: end.bytesIn,
            bytesOut: end.bytesOut,
            seconds: Math.round((end.endedAt - header.startedAt) / 1000),
            reason: end.reason,
            ...(header.part
              ? { part: header.part, moves: header.moves, pausedMs: header.pausedMs }
              : {}),
          },
          end.reason === 'closed' ? 'ok' : 'failed',
        );
      })();
    } finally {
      this.blobs.release(blob.sha256);
    }
    await fsp.rm(recordingPath, { force: true });
  }

  /**
   * Sessions cut off by a crash or kill of this appliance: their recordings are on disk up to
   * the last whole frame. Each becomes a record ending at its last frame.
   */
  async recoverInterrupted(): Promise<number> {
    await fsp.mkdir(this.activeDir, { recursive: true, mode: 0o700 });
    let recovered = 0;
    for (const name of await fsp.readdir(this.activeDir)) {
      const file = path.join(this.activeDir, name);
      let parsed: ReturnType<typeof parseRecording>;
      try {
        parsed = parseRecording(await fsp.readFile(file));
      } catch {
        // Not even a header was written: the session never carried a byte.
        await fsp.rm(file, { force: true });
        continue;
      }
      const { header, frames } = parsed;
      const sum = (d: string) =>
        frames.filter((f) => f.direction === d).reduce((n, f) => n + f.data.length, 0);
      await this.complete(
        header,
        {
          endedAt: header.startedAt + (frames.at(-1)?.at ?? 0),
          bytesIn: sum('from-target'),
          bytesOut: sum('to-target'),
          reason: 'interrupted: the appliance stopped during the session',
        },
        file,
      );
      recovered++;
    }
    return recovered;
  }

  list(opts: { since?: number; limit?: number } = {}): SessionRecord[] {
    const rows = this.db
      .prepare(
        'SELECT * FROM session_records WHERE COALESCE(ended_at, started_at) >= ? ORDER BY COALESCE(ended_at, started_at), id LIMIT ?',
      )
      .all(opts.since ?? 0, opts.limit ?? 1000) as Row[];
    return rows.map(toRecord);
  }

  get(id: string): SessionRecord {
    const row = this.db.prepare('SELECT * FROM session_records WHERE id = ?').get(id) as
      Row | undefined;
    if (!row)
      throw sessionsErrors.SESSION_NOT_FOUND(
        `No session record ${id} on this appliance. List them with GET /api/login/sessions.`,
      );
    return toRecord(row);
  }

  recording(id: string): { record: SessionRecord; stream: Readable } {
    const record = this.get(id);
    if (!record.recordingSha256)
      throw sessionsErrors.RECORDING_NOT_FOUND(`Session ${id} has no recording.`);
    return { record, stream: this.blobs.read(record.recordingSha256) };
  }
}
