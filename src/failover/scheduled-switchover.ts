import type { Actor } from '../shared/actor.js';
import { conflict, isGatehouseError } from '../shared/errors.js';
import { Repeating } from '../shared/repeat.js';
import { parseWindowTime } from '../shared/window-time.js';
import type { EventLog } from '../site/events.js';
import type { RelationshipStore, ScheduledSwitchoverView } from './relationship-store.js';
import type { RoleChange } from './relationship-types.js';
import type { RelationshipView } from './types.js';
import { failoverErrors } from './error-codes.js';

/** How often a serving appliance looks whether its scheduled switchover is due. */
const POLL_MS = 250;

/** Who performs a scheduled switchover when its time comes: the appliance itself. */
const SCHEDULER: Actor = { area: 'system', name: 'scheduled-switchover' };

export interface ScheduledSwitchoverDeps {
  store: RelationshipStore;
  events: EventLog;
  /** The relationship, or refused with FAILOVER_NOT_PAIRED. */
  paired(): RelationshipView;
  /** The planned Become Primary of the Failover page (never forced). */
  becomePrimary(actor: Actor, force: false): Promise<RoleChange>;
  /** Only a serving appliance (the daemon's) performs or drops it; CLI commands do not. */
  active(): boolean;
}

/**
 * A scheduled planned switchover (as `patronictl switchover --scheduled`): on the backup, an
 * administrator sets a time; at that time this appliance runs the planned Become Primary
 * itself, so the peer runs a final sync and steps down, and a stale backup is refused as it is
 * from the button. The schedule is kept in appliance_settings, so a restart keeps it; one whose
 * time passed while the appliance was not running is dropped, never run late: the window it
 * was planned for is over.
 */
export class ScheduledSwitchover {
  /** Whether this process has looked once since it started serving. */
  private armed = false;
  private readonly loop = new Repeating(
    () => this.tick(),
    () => POLL_MS,
  );

  constructor(private readonly deps: ScheduledSwitchoverDeps) {}

  start(): void {
    this.loop.start();
  }

  view(): ScheduledSwitchoverView | undefined {
    return this.deps.store.scheduledSwitchover();
  }

  schedule(actor: Actor, at: string, now = Date.now()): ScheduledSwitchoverView {
    const rel = this.deps.paired();
    if (rel.role !== 'backup')
      throw conflict(
        failoverErrors.FAILOVER_SCHEDULE_NOT_BACKUP,
        `This appliance is the ${rel.role}: schedule the switchover on the backup ("${rel.peer.name}"), which becomes primary at that time. Nothing was scheduled.`,
      );
    const pending = this.view();
    if (pending)
      throw conflict(
        failoverErrors.FAILOVER_SWITCHOVER_SCHEDULED,
        `A switchover is already scheduled here for ${pending.at} (by ${pending.scheduledBy}). Cancel it first, then schedule the new time.`,
        'at',
      );
    const runAt = parseWindowTime(at, now, 'at', 'use Become Primary to switch now');
    const value = {
      at: new Date(runAt).toISOString(),
      scheduledAt: new Date(now).toISOString(),
      scheduledBy: actor.name,
    };
    this.deps.store.setScheduledSwitchover(actor, 'failover.switchover-scheduled', value, {
      at: value.at,
    });
    return value;
  }

  cancel(actor: Actor): ScheduledSwitchoverView {
    const pending = this.view();
    if (!pending)
      throw conflict(
        failoverErrors.FAILOVER_NOTHING_SCHEDULED,
        'No switchover is scheduled on this appliance: nothing was cancelled.',
      );
    this.deps.store.setScheduledSwitchover(actor, 'failover.switchover-cancelled', undefined, {
      at: pending.at,
    });
    return pending;
  }

  /** One look: drop a schedule missed while down (first look only), perform one that is due. */
  async tick(now = Date.now()): Promise<void> {
    if (!this.deps.active()) return;
    const pending = this.view();
    const first = !this.armed;
    this.armed = true;
    if (!pending || Date.parse(pending.at) > now) return;
    const store = this.deps.store;
    if (first) {
      store.setScheduledSwitchover(SCHEDULER, 'failover.switchover-missed', undefined, {
        at: pending.at,
        reason: `this appliance was not running at ${pending.at}; a switchover is not run late, schedule it again`,
      });
      return;
    }
    // Removed before it runs: it runs once, even if the appliance stops during it.
    store.setScheduledSwitchover(SCHEDULER, 'failover.switchover-started', undefined, {
      at: pending.at,
      scheduledBy: pending.scheduledBy,
    });
    const { outcome, details } = await this.perform();
    const peer = store.get()?.peer.name ?? '';
    this.deps.events.record(SCHEDULER, 'failover.switchover-performed', peer, details, outcome);
  }

  private async perform() {
    try {
      const change = await this.deps.becomePrimary(SCHEDULER, false);
      return { outcome: 'ok' as const, details: { ...change } };
    } catch (e) {
      const error = isGatehouseError(e)
        ? { code: e.code, message: e.message }
        : { code: 'INTERNAL_ERROR', message: String(e) };
      return { outcome: 'failed' as const, details: { changed: false, error } };
    }
  }
}
