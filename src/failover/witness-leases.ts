import { z } from 'zod';

/** Where appliances ask the witness for their pair's lease (signed like every peer call). */
export const WITNESS_LEASE_PATH = '/api/witness/lease';

/** Where appliances read their pair's lease without asking for it (the Failover page). */
export const WITNESS_STATUS_PATH = '/api/witness/status';

const Pair = z
  .array(z.string().min(1).max(200))
  .length(2, 'must name both appliances of the pair')
  .transform((p) => [...p].sort());

export const StatusRequest = z.object({ pair: Pair }).strict();

/** Who holds a pair's lease, for how much longer, and the holder's mark (see LeaseRequest.alone). */
export interface LeaseStatus {
  holder: string | null;
  generation: number;
  remainingMs: number;
  alone: number | null;
}

/**
 * What an appliance asks the witness: the lease of its pair (both names, so one witness can
 * serve several pairs), for the generation it is primary at (or will be, when it takes over).
 */
export const LeaseRequest = z
  .object({
    pair: Pair,
    generation: z.number().int().nonnegative(),
    leaseMs: z.number().int().min(100).max(600_000),
    /**
     * The holder: the highest of its changes (its change count, sync/positions.ts) it
     * acknowledged while its backup was cut off. The witness keeps it before answering.
     */
    alone: z.number().int().nonnegative().optional(),
    /** The asker: how far it has mirrored its primary (which appliance, up to which change). */
    synced: z
      .object({ from: z.string().min(1).max(200), changes: z.number().int().nonnegative() })
      .strict()
      .optional(),
  })
  .strict();
export type LeaseRequest = z.infer<typeof LeaseRequest>;

/** The witness's answer: granted or not, and who holds the lease for how much longer. */
export interface LeaseAnswer {
  granted: boolean;
  holder: string | null;
  generation: number;
  /** How long the holder's lease still runs, by the witness's clock. */
  remainingMs: number;
  reason?: string;
  /**
   * Why it was refused: another holds it, the asker was replaced (a newer generation held it),
   * the asker lacks changes the holder acknowledged alone, or it is not of the pair.
   */
  refusal?: 'held' | 'replaced' | 'behind' | 'stranger';
}

/** What the witness keeps on disk: who held each pair's lease (written when the holder changes). */
export interface HeldLease {
  holder: string;
  generation: number;
  leaseMs: number;
  /** The holder's highest change acknowledged alone (see LeaseRequest.alone), if any. */
  alone?: number;
}

interface Lease extends HeldLease {
  /** performance.now() of the witness when the lease ends. */
  expiresAt: number;
}

/**
 * The witness's leases, one per pair, on the witness's monotonic clock. The holder renews its
 * lease; another appliance gets it only once it has run out, and only for a higher generation
 * (an old primary that returns after a takeover never gets it back). After a restart the
 * witness does not know how long the last grant runs: it lets the recorded holder renew at
 * once and grants no one else before a whole lease length has passed.
 */
export class WitnessLeases {
  private readonly leases = new Map<string, Lease>();

  constructor(
    held: Record<string, HeldLease>,
    private readonly now: () => number,
  ) {
    const at = now();
    for (const [pair, h] of Object.entries(held))
      this.leases.set(pair, { ...h, expiresAt: at + h.leaseMs });
  }

  /**
   * Grant, renew or refuse. `changed` when what is kept on disk changed (the caller persists it
   * before answering); `newHolder` when the lease went to another appliance or generation.
   */
  request(from: string, req: LeaseRequest): LeaseAnswer & { changed: boolean; newHolder: boolean } {
    const pair = req.pair.join(' + ');
    const now = this.now();
    const cur = this.leases.get(pair);
    const refuse = (refusal: LeaseAnswer['refusal'], reason: string) => ({
      granted: false,
      holder: cur?.holder ?? null,
      generation: cur?.generation ?? 0,
      remainingMs: cur ? Math.max(0, Math.round(cur.expiresAt - now)) : 0,
      reason,
      refusal,
      changed: false,
      newHolder: false,
    });
    if (!req.pair.includes(from))
      return refuse(
        'stranger',
        `"${from}" is not one of the pair ${pair}: only its appliances hold its lease.`,
      );
    if (cur && req.generation < cur.generation)
      return refuse(
        'replaced',
        `"${cur.holder}" holds or held the lease at generation ${cur.generation}, newer than ${req.generation}: "${from}" was replaced.`,
      );
    if (cur && cur.holder !== from) {
      if (now < cur.expiresAt)
        return refuse(
          'held',
          `"${cur.holder}" holds the lease for ${Math.round(cur.expiresAt - now)} ms more: it is alive and renewing.`,
        );
      if (req.generation === cur.generation)
        return refuse(
          'replaced',
          `"${cur.holder}" held the lease at generation ${cur.generation}: a new holder needs a higher generation.`,
        );
      const behind = lacking(cur, from, req);
      if (behind) return refuse('behind', behind);
    }
    const newHolder = !cur || cur.holder !== from || cur.generation !== req.generation;
    // A new holder's term starts without changes acknowledged alone; the holder's only grow.
    const alone = Math.max(newHolder ? 0 : (cur?.alone ?? 0), req.alone ?? 0) || undefined;
    const changed = newHolder || alone !== cur?.alone;
    const lease = {
      holder: from,
      generation: req.generation,
      leaseMs: req.leaseMs,
      expiresAt: now + req.leaseMs,
      ...(alone ? { alone } : {}),
    };
    this.leases.set(pair, lease);
    return {
      granted: true,
      holder: from,
      generation: req.generation,
      remainingMs: req.leaseMs,
      changed,
      newHolder,
    };
  }

  /** Who holds the pair's lease now (nothing changes). */
  status(pair: string[]): LeaseStatus {
    const cur = this.leases.get(pair.join(' + '));
    return {
      holder: cur?.holder ?? null,
      generation: cur?.generation ?? 0,
      remainingMs: cur ? Math.max(0, Math.round(cur.expiresAt - this.now())) : 0,
      alone: cur?.alone ?? null,
    };
  }

  /** What to keep on disk. */
  held(): Record<string, HeldLease> {
    const out: Record<string, HeldLease> = {};
    for (const [pair, l] of this.leases)
      out[pair] = {
        holder: l.holder,
        generation: l.generation,
        leaseMs: l.leaseMs,
        ...(l.alone ? { alone: l.alone } : {}),
      };
    return out;
  }
}

/**
 * Why `from` may not take the lease over from `held`'s holder: that holder acknowledged changes
 * while its backup was cut off, and `from` has not shown a sync that far (it would lose them).
 */
function lacking(held: HeldLease, from: string, req: LeaseRequest): string | undefined {
  if (!held.alone) return undefined;
  const have = req.synced?.from === held.holder ? req.synced.changes : undefined;
  if (have !== undefined && have >= held.alone) return undefined;
  return `"${held.holder}" acknowledged changes up to its change ${held.alone} while its backup was cut off, and "${from}" has ${have === undefined ? `shown no sync from "${held.holder}"` : `synced only up to its change ${have}`}: taking over now would lose them, so the site has no writable primary until "${from}" has synced that far or "${held.holder}" returns.`;
}
