/**
 * `ms` spread at random over ±spread/2 of itself: clients that lost their appliance at the same
 * instant (a move, an install, a failover) then retry spread out, not in step against the
 * appliance that takes them over.
 */
export function jittered(ms: number, spread = 0.5): number {
  return ms * (1 - spread / 2 + Math.random() * spread);
}
