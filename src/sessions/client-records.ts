import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';

/** How often refusals are written: one event per reason per period, however many came. */
export const REFUSALS_EVERY_MS = 5_000;

/** Who records what the site's clients went through (not an administrator). */
const CLIENTS: Actor = { area: 'login', name: 'clients' };

/**
 * What this appliance's clients went through, kept in the event log so that it flows like
 * history (failover sync, cluster pulls) and the upgrade report can sum it over its window:
 *   client.refused      connections refused, by reason (one event per reason per period,
 *                       with the count: anyone may knock, and the log must not grow with it)
 *   client.reconnected  a client back after a disconnection, with its length and cause, as the
 *                       client measured it (it alone knows when it lost the site)
 * Sessions that ended abnormally are already their own `session.ended` events (outcome failed).
 */
export class ClientRecords {
  private pending = new Map<
    string,
    { count: number; kinds: Record<string, number>; from: number }
  >();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly events: EventLog) {
    this.timer = setInterval(() => this.flush(), REFUSALS_EVERY_MS);
    this.timer.unref();
  }

  refused(code: string, kind: string): void {
    const p = this.pending.get(code) ?? { count: 0, kinds: {}, from: Date.now() };
    p.count++;
    p.kinds[kind] = (p.kinds[kind] ?? 0) + 1;
    this.pending.set(code, p);
  }

  reconnected(name: string, kind: string, downMs: number, reason: string): void {
    this.events.record(CLIENTS, 'client.reconnected', name, {
      kind,
      downMs,
      reason: reason.slice(0, 200),
    });
  }

  /** Write the refusals counted since the last flush (also when the appliance stops). */
  flush(): void {
    const pending = this.pending;
    if (!pending.size) return;
    this.pending = new Map();
    const to = Date.now();
    for (const [code, p] of pending)
      this.events.record(
        CLIENTS,
        'client.refused',
        code,
        { count: p.count, kinds: p.kinds, from: p.from, to },
        'denied',
      );
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/**
 * `X-Gatehouse-Disconnected: <ms>; <reason>`, sent by a client on the connection that ends a
 * disconnection. Anything malformed is ignored: it is the client's account, not a command.
 */
export function parseDisconnected(
  header: string | string[] | undefined,
): { ms: number; reason: string } | undefined {
  const m = /^(\d{1,10});\s?(.*)$/.exec(String(header ?? ''));
  return m ? { ms: Number(m[1]), reason: m[2] ?? '' } : undefined;
}
