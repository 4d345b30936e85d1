import type { Db } from '../../store/db.js';
import { readApplianceSetting, writeApplianceSetting } from '../../store/appliance-settings.js';

/**
 * Positions in a primary's stream of site-data changes, so a witness can tell whether a backup
 * holds every change the primary acknowledged alone (docs/failover.md, "The witness"). The
 * primary numbers each change once it is made (its change count, kept across restarts); its
 * sync manifest carries the count read in the same snapshot, so a backup that applied that
 * manifest holds every change numbered up to it.
 */

/** What a backup holds of a primary: every change `from` numbered up to `changes`. */
export interface SyncedPosition {
  from: string;
  changes: number;
}

const CHANGES_KEY = 'failover.changes';
const SYNCED_KEY = 'failover.synced-through';

export class SyncPositions {
  private count: number;

  constructor(private readonly db: Db) {
    this.count = readApplianceSetting<number>(db, CHANGES_KEY) ?? 0;
  }

  /** This appliance's change count: every change numbered up to it has been made. */
  changes(): number {
    return this.count;
  }

  /**
   * Number a change of site data this appliance (a primary) has just made. Called after the
   * change is made, so a manifest that reads a count at least this high includes it.
   */
  countChange(): number {
    writeApplianceSetting(this.db, CHANGES_KEY, this.count + 1);
    return ++this.count;
  }

  /** How far this appliance (a backup) has synced, and from which primary. */
  syncedThrough(): SyncedPosition | undefined {
    return readApplianceSetting<SyncedPosition>(this.db, SYNCED_KEY);
  }

  /** A mirror sync applied a manifest of `from` that carried its change count. */
  synced(position: SyncedPosition): void {
    writeApplianceSetting(this.db, SYNCED_KEY, position);
  }
}
