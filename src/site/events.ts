import { randomUUID } from 'node:crypto';
import type { Db } from '../store/db.js';
import type { Actor } from '../shared/actor.js';

export interface EventRecord {
  id: string;
  ts: number;
  appliance: string;
  area: string;
  actor: string;
  action: string;
  target: string;
  outcome: 'ok' | 'denied' | 'failed';
  details: Record<string, unknown>;
}

export interface EventQuery {
  q?: string;
  area?: string;
  action?: string;
  since?: number;
  until?: number;
  page: number;
  pageSize: number;
}

/**
 * The audit/event log. Every admin action writes one event, in the same transaction as the
 * change it describes. Ids are globally unique so that logs from two appliances merge by
 * identity. Never put a secret in `details`.
 */
export type EventListener = (event: EventRecord) => void;

export class EventLog {
  private readonly insert;
  private readonly listeners = new Set<EventListener>();

  constructor(
    private readonly db: Db,
    private readonly appliance: string,
  ) {
    this.insert = db.prepare(
      `INSERT INTO events (id, ts, appliance, area, actor, action, target, outcome, details)
       VALUES (@id, @ts, @appliance, @area, @actor, @action, @target, @outcome, @details)`,
    );
  }

  record(
    actor: Actor,
    action: string,
    target = '',
    details: Record<string, unknown> = {},
    outcome: EventRecord['outcome'] = 'ok',
  ): EventRecord {
    const event: EventRecord = {
      id: randomUUID(),
      ts: Date.now(),
      appliance: this.appliance,
      area: actor.area,
      actor: actor.name,
      action,
      target,
      outcome,
      details: actor.ip ? { ...details, ip: actor.ip } : details,
    };
    this.insert.run({ ...event, details: JSON.stringify(event.details) });
    // After the caller's code: a listener (metrics, syslog) never fails or slows the change.
    if (this.listeners.size) setImmediate(() => this.notify(event));
    return event;
  }

  /** Hear every event this appliance records from now on (not those merged from peers). */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(event: EventRecord): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own (it counts and logs it); the others still hear.
      }
    }
  }

  /** The newest event of this appliance with one of `actions`, if any. */
  latest(actions: string[]): EventRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM events WHERE appliance = ? AND action IN (${actions.map(() => '?').join(', ')})
         ORDER BY ts DESC, id DESC LIMIT 1`,
      )
      .get(this.appliance, ...actions) as
      (Omit<EventRecord, 'details'> & { details: string }) | undefined;
    return row
      ? { ...row, details: JSON.parse(row.details) as Record<string, unknown> }
      : undefined;
  }

  search(query: EventQuery): {
    items: EventRecord[];
    total: number;
    page: number;
    pageSize: number;
  } {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (query.q) {
      where.push(
        `(action LIKE @q ESCAPE '\\' OR actor LIKE @q ESCAPE '\\' OR target LIKE @q ESCAPE '\\' OR details LIKE @q ESCAPE '\\')`,
      );
      params.q = `%${query.q.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
    }
    if (query.area) {
      where.push('area = @area');
      params.area = query.area;
    }
    if (query.action) {
      where.push('action = @action');
      params.action = query.action;
    }
    if (query.since !== undefined) {
      where.push('ts >= @since');
      params.since = query.since;
    }
    if (query.until !== undefined) {
      where.push('ts < @until');
      params.until = query.until;
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (
      this.db.prepare(`SELECT count(*) AS n FROM events ${clause}`).get(params) as { n: number }
    ).n;
    const rows = this.db
      .prepare(
        `SELECT * FROM events ${clause} ORDER BY ts DESC, id DESC LIMIT @limit OFFSET @offset`,
      )
      .all({
        ...params,
        limit: query.pageSize,
        offset: (query.page - 1) * query.pageSize,
      }) as (Omit<EventRecord, 'details'> & { details: string })[];
    return {
      items: rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> })),
      total,
      page: query.page,
      pageSize: query.pageSize,
    };
  }
}
