import { z } from 'zod';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import { readApplianceSetting, writeApplianceSetting } from '../store/appliance-settings.js';

const KEY = 'traffic.load-balancer-serves';

export const LoadBalancerInput = z
  .object({ serves: z.boolean({ message: 'must be true or false' }) })
  .strict();

/**
 * A load balancer as the traffic switch (S19; docs/failover.md): it sends the site to the
 * appliance whose `GET /health/primary` answers 200. Beside the role, each appliance keeps
 * whether the load balancer should send it the site's clients, as a shared address is enabled
 * or not: it follows the primary role (on when it becomes primary, off when it becomes backup)
 * and stays as it was when failover is broken, so during an asynchronous upgrade's interim the
 * former backup, standalone and upgraded, gets no clients until the site is switched to it (the
 * orchestrator's `load-balancer` switch, or `PUT /api/appliance/traffic/load-balancer`). Kept in
 * appliance_settings (this appliance's own, never synchronised); on by default.
 */
export class LoadBalancerMembership {
  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  serves(): boolean {
    return readApplianceSetting(this.db, KEY) !== false;
  }

  /** Take (or give up) the site's clients from the load balancer; an event when it changes. */
  set(actor: Actor, serves: boolean, why: string): { serves: boolean } {
    if (this.serves() === serves) return { serves };
    this.db.transaction(() => {
      writeApplianceSetting(this.db, KEY, serves);
      this.events.record(actor, 'traffic.load-balancer', serves ? 'serves' : 'released', { why });
    })();
    return { serves };
  }
}
