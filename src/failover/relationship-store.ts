import type { Db } from '../store/db.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog, EventRecord } from '../site/events.js';
import {
  AutomaticFailoverSchema,
  DEFAULT_AUTOMATIC_FAILOVER,
  type AutomaticFailover,
} from './relationship-schemas.js';
import type { RelationshipView } from './types.js';
import { FailoverHistory } from './history.js';
import {
  deleteApplianceSetting,
  readApplianceSetting,
  writeApplianceSetting,
} from '../store/appliance-settings.js';

const RELATIONSHIP_KEY = 'failover.relationship';
const AUTOMATIC_KEY = 'failover.automatic';
const SCHEDULED_KEY = 'failover.scheduled-switchover';

/** A planned Become Primary this backup performs itself at `at` (scheduled-switchover.ts). */
export interface ScheduledSwitchoverView {
  at: string;
  scheduledAt: string;
  scheduledBy: string;
}

/**
 * The relationship and the automatic-failover settings of this appliance, in
 * appliance_settings (never synchronised: each side keeps its own view of the pair). Every
 * change is written in one transaction with the event that describes it.
 */
export class RelationshipStore {
  private cached: RelationshipView | undefined | null = null;
  /** Peer status checks and role changes over time (Management > Failover). */
  readonly history: FailoverHistory;

  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {
    this.history = new FailoverHistory(db);
  }

  private read(key: string): unknown {
    return readApplianceSetting(this.db, key);
  }

  private put(key: string, value: unknown | undefined): void {
    if (value === undefined) deleteApplianceSetting(this.db, key);
    else writeApplianceSetting(this.db, key, value);
  }

  /** The relationship, or undefined when this appliance is standalone. */
  get(): RelationshipView | undefined {
    if (this.cached === null) {
      // Role reads are frequent (every page, /health); the only writer is this process.
      if (!this.db.open) return undefined;
      this.cached = this.read(RELATIONSHIP_KEY) as RelationshipView | undefined;
    }
    return this.cached;
  }

  /** Store (or, with undefined, remove) the relationship and record why, atomically. */
  write(
    actor: Actor,
    action: string,
    rel: RelationshipView | undefined,
    details: Record<string, unknown>,
    target = rel?.peer.name ?? '',
  ): EventRecord {
    const before = this.get();
    const event = this.db.transaction(() => {
      this.put(RELATIONSHIP_KEY, rel);
      if (before?.role !== rel?.role || before?.generation !== rel?.generation)
        this.history.role({
          action,
          role: rel?.role ?? 'standalone',
          generation: rel?.generation ?? null,
          peer: (rel ?? before)?.peer.name ?? null,
        });
      return this.events.record(actor, action, target, details);
    })();
    this.cached = rel;
    return event;
  }

  automatic(): AutomaticFailover {
    const stored = this.read(AUTOMATIC_KEY);
    const parsed = AutomaticFailoverSchema.safeParse(stored);
    return parsed.success ? parsed.data : DEFAULT_AUTOMATIC_FAILOVER;
  }

  setAutomatic(actor: Actor, value: AutomaticFailover): void {
    this.db.transaction(() => {
      this.put(AUTOMATIC_KEY, value);
      this.events.record(actor, 'failover.automatic.updated', 'automatic-failover', {
        enabled: value.enabled,
        unreachableForSeconds: value.unreachableForSeconds,
        checkAddresses: value.checkAddresses.map((a) => `${a.host}:${a.port}`),
      });
    })();
  }

  scheduledSwitchover(): ScheduledSwitchoverView | undefined {
    return this.read(SCHEDULED_KEY) as ScheduledSwitchoverView | undefined;
  }

  /** Store (or, with undefined, remove) the scheduled switchover with its event, atomically. */
  setScheduledSwitchover(
    actor: Actor,
    action: string,
    value: ScheduledSwitchoverView | undefined,
    details: Record<string, unknown>,
  ): void {
    this.db.transaction(() => {
      this.put(SCHEDULED_KEY, value);
      this.events.record(actor, action, this.get()?.peer.name ?? '', details);
    })();
  }
}
