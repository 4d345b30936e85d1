import type { NodeStatus } from './node-routes.js';
import type { TrafficNode } from './nodes-store.js';

/** A node not heard from for this long gets no new clients. */
export const STALE_MS = 5_000;

/** What routing reads of a node's last poll. */
export interface NodeHeard {
  status: Pick<
    NodeStatus,
    'membership' | 'ready' | 'update' | 'productVersion' | 'connectedClients'
  > | null;
  lastContact: number | null;
  /** Clients sent there since that status. */
  assigned: number;
}

/**
 * Whether a node gets new clients now: accepting on both sides, heard from within `STALE_MS`,
 * ready, not installing and on the primary node's version.
 */
export function eligibleNode(
  n: Pick<TrafficNode, 'accepting'>,
  heard: NodeHeard | undefined,
  version: string,
  now: number,
): boolean {
  const s = heard?.status;
  return (
    !!s &&
    !!heard.lastContact &&
    now - heard.lastContact < STALE_MS &&
    n.accepting &&
    s.membership?.accepting === true &&
    s.ready &&
    !s.update &&
    s.productVersion === version
  );
}

/**
 * The node a new client goes to: among the eligible ones, those of its region (all of them
 * when its region has none), the least loaded (connected clients and those sent since the
 * last poll); the first of equals. Undefined when no node is eligible.
 */
export function chooseNode<N extends Pick<TrafficNode, 'region'>>(
  eligible: N[],
  region: string | undefined,
  load: (n: N) => number,
): N | undefined {
  const inRegion = eligible.filter((n) => n.region === region);
  const pool = inRegion.length ? inRegion : eligible;
  if (!pool.length) return undefined;
  return pool.reduce((a, b) => (load(b) < load(a) ? b : a));
}
