import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { renameDurably, writeFileAtomic } from '../shared/fs.js';
import type { EventRecord } from '../site/events.js';
import type { SessionRecord } from '../sessions/session-records.js';
import { clientsErrors } from './error-codes.js';

/** Where each export run starts: the newest record and event it has seen (appliance clock). */
export interface ExportState {
  format: 1;
  cursor: { sessionsEndedAt: number | null; eventsTs: number | null };
  lastRun: { at: string; site: string; appliance: string } | null;
  /**
   * The site certificate authority learnt at the first run (S20): later runs trust whichever
   * appliance of the site answers, though only one appliance's certificate was pinned.
   */
  siteCa?: string;
}

/**
 * An event as exported: `scope` says whether it is the site's history (users, settings,
 * sessions, Jump Clients, cluster) or one an appliance logged about itself (its start and
 * stop, software updates, addresses, traffic switch, failover role and syncs, backups, syslog,
 * monitoring, sign-ins to its /appliance area), which describes that appliance only.
 */
export type ExportedEvent = EventRecord & { scope: 'site' | 'appliance' };

const APPLIANCE_ACTIONS = new Set([
  'appliance',
  'update',
  'updates',
  'network',
  'traffic',
  'failover',
  'backup',
  'syslog',
  'monitoring',
]);

export const scopeOf = (e: EventRecord): ExportedEvent['scope'] =>
  APPLIANCE_ACTIONS.has(e.action.split('.')[0]!) ||
  // A traffic node applying the configuration its primary pushed: about that node too.
  e.action === 'cluster.config-applied' ||
  (e.area === 'appliance' && e.action.startsWith('auth.'))
    ? 'appliance'
    : 'site';

const EMPTY_STATE: ExportState = {
  format: 1,
  cursor: { sessionsEndedAt: null, eventsTs: null },
  lastRun: null,
};

const dayOf = (ts: number) => new Date(ts).toISOString().slice(0, 10);

/**
 * The export folder of the Integration Client (layout in docs/clients.md):
 *   sessions/<id>.json   one session record, written after its recording
 *   recordings/<id>.rec  the recording, its sha256 checked against the record
 *   logs/YYYY-MM-DD.ndjson  events of one UTC day, one JSON object a line, sorted by time
 *   state.json           the cursor, written last
 * Every file is written to a temporary name, fsynced and renamed, so a killed run leaves each
 * file whole or absent; ids make a re-run skip what is already there.
 */
export class ExportFolder {
  private readonly days = new Map<string, Map<string, EventRecord>>();

  constructor(readonly dir: string) {}

  async open(): Promise<void> {
    for (const sub of ['sessions', 'recordings', 'logs']) {
      const d = path.join(this.dir, sub);
      await fsp.mkdir(d, { recursive: true, mode: 0o700 });
      // Leftovers of a killed run: never renamed, so never part of the export.
      for (const f of await fsp.readdir(d))
        if (f.endsWith('.tmp')) await fsp.rm(path.join(d, f), { force: true });
    }
  }

  async readState(): Promise<ExportState> {
    let text: string;
    try {
      text = await fsp.readFile(path.join(this.dir, 'state.json'), 'utf8');
    } catch {
      return structuredClone(EMPTY_STATE);
    }
    try {
      const state = JSON.parse(text) as ExportState;
      if (state.format !== 1) throw new Error(`format ${String(state.format)}`);
      return state;
    } catch (e) {
      throw clientsErrors.EXPORT_STATE_UNREADABLE(
        `--out: ${path.join(this.dir, 'state.json')} is not an export state (${(e as Error).message}). Remove it to export from --since again; files already exported are kept and not duplicated.`,
        { fields: [{ field: '--out', message: 'holds an unreadable state.json' }] },
      );
    }
  }

  writeState(state: ExportState): Promise<void> {
    return writeFileAtomic(
      path.join(this.dir, 'state.json'),
      JSON.stringify(state, null, 2) + '\n',
      0o600,
    );
  }

  sessionFile = (id: string) => path.join(this.dir, 'sessions', `${id}.json`);
  recordingFile = (id: string) => path.join(this.dir, 'recordings', `${id}.rec`);

  hasSession(record: SessionRecord): boolean {
    return (
      existsSync(this.sessionFile(record.id)) &&
      (!record.recordingSha256 || existsSync(this.recordingFile(record.id)))
    );
  }

  saveSession(record: SessionRecord): Promise<void> {
    return writeFileAtomic(this.sessionFile(record.id), JSON.stringify(record, null, 2) + '\n');
  }

  /** Stream a recording to disk; it is renamed into place only when size and sha256 match. */
  async saveRecording(record: SessionRecord, body: Readable): Promise<number> {
    const file = this.recordingFile(record.id);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const hash = createHash('sha256');
    let size = 0;
    body.on('data', (c: Buffer) => {
      hash.update(c);
      size += c.length;
    });
    try {
      await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
      const sha256 = hash.digest('hex');
      if (sha256 !== record.recordingSha256 || size !== record.recordingSize)
        throw clientsErrors.RECORDING_DIGEST_MISMATCH(
          `The recording of session ${record.id} arrived with sha256 ${sha256} (${size} bytes), not the record's ${record.recordingSha256} (${record.recordingSize} bytes). Nothing was kept; run the export again, and if it repeats, check the appliance's blob store.`,
        );
      await renameDurably(tmp, file);
      return size;
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  private async day(day: string): Promise<Map<string, EventRecord>> {
    let events = this.days.get(day);
    if (events) return events;
    events = new Map();
    let text = '';
    try {
      text = await fsp.readFile(path.join(this.dir, 'logs', `${day}.ndjson`), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      const event = JSON.parse(line) as EventRecord;
      events.set(event.id, event);
    }
    this.days.set(day, events);
    return events;
  }

  /** Add events to their day files; an id already there is not written twice. */
  async addEvents(events: ExportedEvent[]): Promise<{ added: ExportedEvent[]; had: number }> {
    const added: ExportedEvent[] = [];
    const touched = new Set<string>();
    for (const e of events) {
      const day = await this.day(dayOf(e.ts));
      if (day.has(e.id)) continue;
      day.set(e.id, e);
      added.push(e);
      touched.add(dayOf(e.ts));
    }
    for (const d of touched) {
      const sorted = [...this.days.get(d)!.values()].sort(
        (a, b) => a.ts - b.ts || a.id.localeCompare(b.id),
      );
      await writeFileAtomic(
        path.join(this.dir, 'logs', `${d}.ndjson`),
        sorted.map((e) => JSON.stringify(e) + '\n').join(''),
      );
    }
    return { added, had: events.length - added.length };
  }
}
