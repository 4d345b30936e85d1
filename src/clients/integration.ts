import type { Readable } from 'node:stream';
import { GatehouseError, isGatehouseError, type Problem } from '../shared/errors.js';
import type { EventRecord } from '../site/events.js';
import type { SessionRecord } from '../sessions/session-records.js';
import { ApplianceClient, toError } from './admin-client.js';
import { ExportFolder, scopeOf, type ExportedEvent, type ExportState } from './export-folder.js';
import { ExportDatabase } from './export-sqlite.js';
import { checkPrimary, type ApplianceStanding, type PrimaryCheck } from './site-primary.js';
import { endpointTrust, type Endpoint } from './tunnel.js';
import { clientsErrors } from './error-codes.js';
import { sessionsErrors } from '../sessions/error-codes.js';

/** Records merged later (failover, S21; traffic nodes) carry old times: re-read this far back. */
export const DEFAULT_OVERLAP_MS = 24 * 3600_000;
const SESSIONS_PAGE = 500;
const SESSIONS_PAGE_MAX = 5000;
const EVENTS_PAGE = 500;

export interface ExportOptions {
  site: Endpoint;
  username: string;
  password: string;
  dir: string;
  /** Start here (ms since 1970) instead of at the saved cursor minus the overlap. */
  since?: number;
  overlapMs?: number;
  sqlite?: string;
  /** Refuse to export from an appliance that is not (or cannot be shown to be) the primary. */
  requirePrimary?: boolean;
  log?: (line: string) => void;
}

export interface ExportSummary {
  site: string;
  appliance: string;
  dir: string;
  since: { sessions: number; events: number };
  sessions: { new: number; alreadyHad: number };
  recordings: { downloaded: number; bytes: number };
  events: { new: number; alreadyHad: number };
  cursor: ExportState['cursor'];
  sqlite: string | null;
  /** Whether the appliance read is the site's primary (a backup's copy may lag or differ). */
  primary: PrimaryCheck;
  /** The site certificate authority trusted from now on (null: a site of the previous release). */
  siteCa: string | null;
}

const hostPort = (e: Endpoint) => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;

/** A refused or unresolvable site becomes an error that says which flag to check. */
function unreachable(site: Endpoint, e: unknown): GatehouseError {
  if (isGatehouseError(e)) return e;
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = err.code ?? err.cause?.code ?? err.message;
  return sessionsErrors.SITE_UNREACHABLE(
    `--site: cannot reach ${hostPort(site)} (${code}). Check that the name resolves (DNS or hosts file) to the site's primary appliance and that its TLS port is open.`,
    { fields: [{ field: '--site', message: `cannot be reached (${code})` }] },
  );
}

/**
 * The Integration Client: pulls session records, recordings and the event log of a site into an
 * export folder (and optionally a SQLite file), incrementally. The site may be named by hostname
 * or address: the certificate is pinned by fingerprint, so only the name resolution differs.
 */
export class IntegrationClient {
  private http: ApplianceClient | undefined;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: ExportOptions) {
    this.log = opts.log ?? (() => undefined);
  }

  /**
   * The site may have moved to its failover peer or another node: trust every certificate of the
   * site given, and what its certificate authority issued (given, or learnt at an earlier run).
   */
  private connect(siteCa: string | undefined): ApplianceClient {
    const site = { ...this.opts.site, ...(siteCa ? { siteCa } : {}) };
    return new ApplianceClient(
      `https://${hostPort(site)}`,
      { fingerprint: endpointTrust(site) },
      { connections: 4, lookup: site.lookup },
    );
  }

  async export(): Promise<ExportSummary> {
    const { opts } = this;
    const folder = new ExportFolder(opts.dir);
    const state = await folder.readState();
    const http = (this.http = this.connect(opts.site.siteCa ?? state.siteCa));
    try {
      await http.signIn('login', opts.username, opts.password);
    } catch (e) {
      throw unreachable(opts.site, e);
    }
    let db: ExportDatabase | undefined;
    try {
      const info = await this.get<ApplianceStanding & { productVersion: string; siteCa?: string }>(
        '/api/login/status/information',
      );
      this.log(
        `signed in to ${info.appliance} (${info.role}, ${info.productVersion}) at ${hostPort(opts.site)} as ${opts.username}`,
      );
      const primary = await this.checkPrimary(info);
      // Learnt over this trusted connection, kept for the next runs (the migration from a pin
      // of one appliance's certificate to the site's identity); an appliance that joined another
      // site since tells its new one.
      const siteCa = opts.site.siteCa ?? info.siteCa ?? state.siteCa;
      await folder.open();
      db = opts.sqlite ? new ExportDatabase(opts.sqlite) : undefined;
      const overlap = opts.overlapMs ?? DEFAULT_OVERLAP_MS;
      const start = (cursor: number | null) =>
        opts.since ?? (cursor === null ? 0 : Math.max(0, cursor - overlap));
      const since = {
        sessions: start(state.cursor.sessionsEndedAt),
        events: start(state.cursor.eventsTs),
      };
      const sessions = await this.sessions(folder, db, since.sessions);
      const events = await this.events(folder, db, since.events);
      const max = (a: number | null, b: number | null) =>
        a === null ? b : b === null ? a : Math.max(a, b);
      const next: ExportState = {
        format: 1,
        cursor: {
          sessionsEndedAt: max(state.cursor.sessionsEndedAt, sessions.newest),
          eventsTs: max(state.cursor.eventsTs, events.newest),
        },
        lastRun: {
          at: new Date().toISOString(),
          site: hostPort(opts.site),
          appliance: info.appliance,
        },
        ...(siteCa ? { siteCa } : {}),
      };
      // Last: a run killed before this point is simply done again, skipping what it wrote.
      await folder.writeState(next);
      return {
        site: hostPort(opts.site),
        appliance: info.appliance,
        dir: opts.dir,
        since,
        sessions: { new: sessions.new, alreadyHad: sessions.had },
        recordings: { downloaded: sessions.downloaded, bytes: sessions.bytes },
        events: { new: events.new, alreadyHad: events.had },
        cursor: next.cursor,
        sqlite: opts.sqlite ?? null,
        primary,
        siteCa: siteCa ?? null,
      };
    } finally {
      db?.close();
      await http.call('DELETE', '/api/login/session').catch(() => undefined);
    }
  }

  /** Warn (or, with requirePrimary, refuse before writing anything) off the site's primary. */
  private async checkPrimary(info: ApplianceStanding): Promise<PrimaryCheck> {
    const check = await checkPrimary(info, this.opts.site);
    if (check.primary === true) return check;
    const fix = info.siteHostname
      ? `give --site ${info.siteHostname}:${this.opts.site.port}`
      : 'give --site the site hostname and port';
    if (this.opts.requirePrimary)
      throw clientsErrors.EXPORT_NOT_PRIMARY(
        `--require-primary: ${check.why}; nothing was exported. The site's records are the primary's: ${fix}, or leave out --require-primary to export from this appliance anyway.`,
        { fields: [{ field: '--site', message: "is not the site's primary" }] },
      );
    this.log(
      `warning: ${check.why}; ${check.primary === false ? 'it is not' : 'it may not be'} the site's primary, whose records are the site's (${fix}; --require-primary makes this an error)`,
    );
    return check;
  }

  private async get<T>(path: string): Promise<T> {
    const res = await this.http!.call<T>('GET', path);
    if (res.status !== 200) throw toError(res);
    return res.body;
  }

  /** Session records ended at or after `since`, oldest first, each with its recording. */
  private async sessions(folder: ExportFolder, db: ExportDatabase | undefined, since: number) {
    const out = { new: 0, had: 0, downloaded: 0, bytes: 0, newest: null as number | null };
    const seen = new Set<string>();
    let limit = SESSIONS_PAGE;
    for (let from = since; ;) {
      const { sessions } = await this.get<{ sessions: SessionRecord[] }>(
        `/api/login/sessions?since=${from}&limit=${limit}`,
      );
      const rows: (SessionRecord & { recordingFile: string | null })[] = [];
      for (const r of sessions) {
        const ended = r.endedAt ?? r.startedAt;
        out.newest = Math.max(out.newest ?? ended, ended);
        if (seen.has(r.id)) continue;
        seen.add(r.id);
        if (folder.hasSession(r)) out.had++;
        else {
          if (r.recordingSha256) {
            out.bytes += await folder.saveRecording(r, await this.recording(r.id));
            out.downloaded++;
          }
          await folder.saveSession(r);
          out.new++;
          this.log(
            `session ${r.id} ${r.representative} → ${r.jumpClient} → ${r.target}${r.recordingSha256 ? ` recording ${r.recordingSize} bytes, sha256 verified` : ''}`,
          );
        }
        rows.push({ ...r, recordingFile: r.recordingSha256 ? `recordings/${r.id}.rec` : null });
      }
      db?.sessions(rows);
      if (sessions.length < limit) break;
      const last = sessions.at(-1)!;
      const lastEnded = last.endedAt ?? last.startedAt;
      if (lastEnded === from) {
        // A whole page ended in the same millisecond: ask for a bigger page once.
        if (limit === SESSIONS_PAGE_MAX)
          throw clientsErrors.EXPORT_PAGE_STUCK(
            `More than ${SESSIONS_PAGE_MAX} session records end at ${from}; the export cannot page past them. Report this to Gatehouse support.`,
          );
        limit = SESSIONS_PAGE_MAX;
        continue;
      }
      from = lastEnded;
      this.log(`sessions: ${out.new} new, ${out.had} already had so far`);
    }
    return out;
  }

  private async recording(id: string): Promise<Readable> {
    const res = await this.http!.call<Readable>(
      'GET',
      `/api/login/sessions/${encodeURIComponent(id)}/recording`,
      { stream: true, headers: { accept: 'application/octet-stream' } },
    );
    if (res.status === 200) return res.body;
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    let problem: Partial<Problem> | undefined;
    try {
      problem = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Problem;
    } catch {
      problem = undefined;
    }
    throw toError({ status: res.status, headers: res.headers, body: problem });
  }

  /**
   * Events at or after `since`. The log pages newest first: an event arriving meanwhile shifts
   * later pages by one, so an event may come twice (the folder keeps it once), never not at all.
   */
  private async events(folder: ExportFolder, db: ExportDatabase | undefined, since: number) {
    const out = { new: 0, had: 0, newest: null as number | null };
    for (let page = 1; ; page++) {
      const read = await this.get<{ items: EventRecord[] }>(
        `/api/login/logs?since=${since}&page=${page}&pageSize=${EVENTS_PAGE}`,
      );
      const items: ExportedEvent[] = read.items.map((e) => ({ ...e, scope: scopeOf(e) }));
      for (const e of items) out.newest = Math.max(out.newest ?? e.ts, e.ts);
      const { added, had } = await folder.addEvents(items);
      db?.events(items);
      out.new += added.length;
      out.had += had;
      this.log(`events: page ${page}, ${added.length} new, ${had} already had`);
      if (items.length < EVENTS_PAGE) break;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.http?.close();
  }
}
