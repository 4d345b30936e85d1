import { GatehouseError, isGatehouseError } from '../shared/errors.js';
import { withTimeout } from './relationship-errors.js';
import { failoverErrors } from './error-codes.js';

/**
 * Runs `sync` so that every caller waits for a sync that started after it called: callers
 * that arrive while one is queued share it, so a burst of writes costs one or two syncs.
 */
export class SyncBarrier {
  private queued: Promise<void> | undefined;
  private current: Promise<void> | undefined;

  constructor(private readonly sync: () => Promise<unknown>) {}

  after(): Promise<void> {
    if (this.queued) return this.queued;
    const before = this.current ?? Promise.resolve();
    const next: Promise<void> = before
      .catch(() => undefined)
      .then(async () => {
        // From here on, a new caller's change may be too late for this sync: it queues anew.
        this.queued = undefined;
        this.current = next;
        try {
          await this.sync();
        } finally {
          if (this.current === next) this.current = undefined;
        }
      });
    this.queued = next;
    return next;
  }
}

export interface AcknowledgeDeps {
  /** The primary with a witness waits for its backup (else changes are acknowledged at once). */
  waits: () => boolean;
  /** Number the change just made (the primary's change count, sync/positions.ts). */
  count: () => number;
  /** Whether the backup answered the last heartbeat. */
  backupReachable: () => boolean;
  /** Have the witness keep the change as acknowledged alone; why not, if it did not. */
  keepAlone: (change: number) => Promise<string | undefined>;
  fenced: () => boolean;
  /** How long to wait for the backup: the lease length. */
  waitMs: () => number;
  barrier: SyncBarrier;
  peer: () => string;
}

/**
 * Before a primary with a witness acknowledges a change of site data: the backup has pulled it
 * (so a takeover cannot lose it); or, when the backup is unreachable, the witness has kept the
 * change as acknowledged alone (it grants the lease to no backup that has not synced that far,
 * docs/failover.md); and the primary still may serve (a primary frozen or cut off past its
 * lease acknowledges nothing: the backup may have taken over). Returns the error to answer
 * instead of the acknowledgement, or undefined.
 */
export async function acknowledgement(d: AcknowledgeDeps): Promise<GatehouseError | undefined> {
  if (!d.waits()) return undefined;
  const change = d.count();
  let pulled = false;
  if (d.backupReachable())
    try {
      await withTimeout(d.barrier.after(), d.waitMs(), d.peer());
      pulled = true;
    } catch (e) {
      if (d.backupReachable())
        return notReplicated(
          d.peer(),
          `the backup "${d.peer()}" has not confirmed it has it (${isGatehouseError(e) ? e.code : String(e)})`,
        );
    }
  if (!pulled) {
    const why = await d.keepAlone(change);
    if (why)
      return notReplicated(
        d.peer(),
        `the backup "${d.peer()}" is unreachable and the witness did not keep it as acknowledged alone (${why})`,
      );
  }
  if (d.fenced())
    return failoverErrors.FAILOVER_PRIMARY_FENCED(
      `This primary lost its witness's lease and the backup's promise while making the change: it is not acknowledged (the backup "${d.peer()}" may have taken over, and the change may be lost). Check on the primary whether it is there before trying again.`,
    );
  return undefined;
}

const notReplicated = (peer: string, why: string) =>
  failoverErrors.FAILOVER_NOT_REPLICATED(
    `The change was made on this primary, but ${why}: it is not acknowledged, and it may be lost if the backup "${peer}" takes over before its next sync. Check whether it is there before trying again.`,
  );
