import type { FailoverRole } from './relationship-types.js';
import type { RelationshipView } from './types.js';

/**
 * The generation rules of a failover pair (S25), pure: every role change raises the generation,
 * and whoever learns that its peer is primary at a higher generation than its own was replaced.
 * No I/O here, so each rule is tested on its own (generations.test.ts).
 */

/** What a peer claims in every relationship call. */
export interface Claim {
  role: FailoverRole;
  generation: number;
}

/** What to do with a peer's claim: nothing, learn its generation, or step down. */
export type ClaimOutcome =
  | { kind: 'ignore' }
  | { kind: 'learn'; next: RelationshipView }
  | { kind: 'step-down'; next: RelationshipView; reason: string };

/**
 * Learn from what the peer claims. A peer that is primary at a higher generation replaced this
 * appliance: if this one still believes it is primary, it steps down to backup. A claim from
 * anyone but the peer, or at a generation not above ours, teaches nothing.
 */
export function judgeClaim(
  rel: RelationshipView | undefined,
  from: string,
  claim: Claim,
): ClaimOutcome {
  if (!rel || rel.peer.name !== from || claim.generation <= rel.generation)
    return { kind: 'ignore' };
  if (claim.role === 'primary' && rel.role === 'primary')
    return {
      kind: 'step-down',
      next: { ...rel, role: 'backup', generation: claim.generation },
      reason: `"${from}" became primary at generation ${claim.generation} while this appliance was primary at generation ${rel.generation}: it was replaced, so it serves as backup (no two primaries).`,
    };
  if (claim.role === 'standalone') return { kind: 'ignore' };
  return { kind: 'learn', next: { ...rel, generation: claim.generation } };
}

/** The generation a role change asks for: one above the relationship's own. */
export const nextGeneration = (rel: RelationshipView): number => rel.generation + 1;

/**
 * The generation this appliance takes when its peer asks it to change role: the one asked for,
 * but never at or below what it has already seen (a late or replayed request cannot go back).
 */
export const acceptedGeneration = (asked: number, rel: RelationshipView): number =>
  Math.max(asked, nextGeneration(rel));

/** The generation after the peer answered a role change: the higher of ours and its own. */
export const settledGeneration = (ours: number, peers: number): number => Math.max(ours, peers);

/** The generation a joining backup takes: the primary's, unless it has seen a higher one. */
export const joinGeneration = (primary: number, existing: RelationshipView | undefined): number =>
  Math.max(primary, existing?.generation ?? 0);
