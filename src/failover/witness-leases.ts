import { z } from 'zod';

/** Where appliances ask the witness for their pair's lease (signed like every peer call). */
export const WITNESS_LEASE_PATH = '/api/witness/lease';

/**
 * What an appliance asks the witness: the lease of its pair (both names, so one witness can
 * serve several pairs), for the generation it is primary at (or will be, when it takes over).
 */
export const LeaseRequest = z
  .object({
    pair: z
      .array(z.string().min(1).max(200))
      .length(2, 'must name both appliances of the pair')
      .transform((p) => [...p].sort()),
    generation: z.number().int().nonnegative(),
    leaseMs: z.number().int().min(100).max(600_000),
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
}

/** What the witness keeps on disk: who held each pair's lease (written when the holder changes). */
export interface HeldLease {
  holder: string;
  generation: number;
  leaseMs: number;
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

  /** Grant, renew or refuse; `changed` when the holder or generation changed (the caller persists it). */
  request(from: string, req: LeaseRequest): LeaseAnswer & { changed: boolean } {
    const pair = req.pair.join(' + ');
    const now = this.now();
    const cur = this.leases.get(pair);
    const refuse = (reason: string) => ({
      granted: false,
      holder: cur?.holder ?? null,
      generation: cur?.generation ?? 0,
      remainingMs: cur ? Math.max(0, Math.round(cur.expiresAt - now)) : 0,
      reason,
      changed: false,
    });
    if (!req.pair.includes(from))
      return refuse(
        `"${from}" is not one of the pair ${pair}: only its appliances hold its lease.`,
      );
    if (cur && req.generation < cur.generation)
      return refuse(
        `"${cur.holder}" holds or held the lease at generation ${cur.generation}, newer than ${req.generation}: "${from}" was replaced.`,
      );
    if (cur && cur.holder !== from) {
      if (now < cur.expiresAt)
        return refuse(
          `"${cur.holder}" holds the lease for ${Math.round(cur.expiresAt - now)} ms more: it is alive and renewing.`,
        );
      if (req.generation === cur.generation)
        return refuse(
          `"${cur.holder}" held the lease at generation ${cur.generation}: a new holder needs a higher generation.`,
        );
    }
    const changed = !cur || cur.holder !== from || cur.generation !== req.generation;
    const lease = {
      holder: from,
      generation: req.generation,
      leaseMs: req.leaseMs,
      expiresAt: now + req.leaseMs,
    };
    this.leases.set(pair, lease);
    return {
      granted: true,
      holder: from,
      generation: req.generation,
      remainingMs: req.leaseMs,
      changed,
    };
  }

  /** What to keep on disk. */
  held(): Record<string, HeldLease> {
    const out: Record<string, HeldLease> = {};
    for (const [pair, l] of this.leases)
      out[pair] = { holder: l.holder, generation: l.generation, leaseMs: l.leaseMs };
    return out;
  }
}
