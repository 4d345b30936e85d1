import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import type { PeerClient } from './peer-client.js';
import type { MovingAddress } from '../site/moving-address.js';
import type { SyncedPosition } from './sync/positions.js';
import type { RelationshipView, SyncResult } from './types.js';
import type { SiteCaBundle } from '../site/site-identity.js';

export type FailoverRole = 'standalone' | 'primary' | 'backup';

/**
 * What a primary that steps down does with its connected clients: `stay` while its peer has not
 * taken the role yet (sent now, they would reach an appliance with no primary to accept them),
 * else straight to the peer that took it (its address and certificate), else (undefined) through
 * the site.
 */
export type ClientsGo =
  'stay' | { to: { node: string; host: string; port: number; fingerprint: string } };

/**
 * What the relationship needs of the synchronisation (src/failover/sync), kept loose so the two
 * stay apart: the final sync before a planned role change, and the last result for the page.
 */
export interface SyncHook {
  syncNow(rel: RelationshipView, fresh?: boolean): Promise<SyncResult>;
  /** Pull only the history (logs, session records, recordings) of a peer: S21 at establish. */
  pullFrom(peer: PeerClient, mode: 'merge-history-only'): Promise<SyncResult>;
  readonly lastResult?: SyncResult | null;
  readonly progress?: SyncProgressView;
  /** Number a change of site data just made on this primary (sync/positions.ts). */
  countChange(): number;
  /** How far this appliance has mirrored its primary's changes (sync/positions.ts). */
  syncedThrough(): SyncedPosition | undefined;
}

/** A sync's progress as the Failover page shows it (src/failover/sync reports it). */
export interface SyncProgressView {
  phase: string;
  mode?: string;
  from?: string;
  startedAt?: string;
  rows: { done: number; total: number };
  blobs: { done: number; total: number; bytes: number };
  error?: { code: string; message: string };
}

/** Where the synchronisation of the pair stands: the backup pulls, so its view is the one. */
export interface PairSyncStatus {
  /** The appliance whose progress this is (the backup), and whether it could be asked. */
  appliance: string;
  reachable: boolean;
  progress: SyncProgressView | null;
  lastResult: SyncResult | null;
  error?: { code: string; message: string };
}

export interface RelationshipDeps {
  db: Db;
  events: EventLog;
  name: string;
  fingerprint: string;
  key: () => string;
  sync: () => SyncHook | undefined;
  /** Whether this appliance is serving (the daemon's): only then does the monitor act. */
  active: () => boolean;
  /**
   * What follows the role on this appliance (its shared addresses, S19): called after each role
   * change, and before giving up the primary role so that the peer can take over the address.
   */
  followRole?: (actor: Actor, role: FailoverRole, clients?: ClientsGo) => Promise<void>;
  /** Where clients reach this appliance directly, when set (Networking > Client Address). */
  clientAddress?: () => { host: string; port: number } | undefined;
  /** Addresses that follow the primary role here: never connection details (S14). */
  movingAddresses?: () => MovingAddress[];
  /**
   * The site certificate authority (S20): a primary hands it to the backup that joins, over
   * the pinned and key-proven peer channel; the backup adopts it.
   */
  siteCa?: {
    bundle(): SiteCaBundle;
    adopt(actor: Actor, value: unknown, from: string): Promise<void>;
  };
}

/** What this appliance answers to every relationship call: who it is and what it believes. */
export interface PeerAnswer {
  name: string;
  role: FailoverRole;
  generation: number;
  /** A backup with a witness: its promise not to take over (see quorum.ts). */
  promiseMs?: number;
  /** Where clients reach it directly, when set there (answered as it takes the primary role). */
  clientAddress?: { host: string; port: number };
}

export interface PeerState {
  reachable: boolean;
  checkedAt: string;
  role?: FailoverRole;
  generation?: number;
  error?: { code: string; message: string };
}

export interface RoleChange {
  changed: boolean;
  role: FailoverRole;
  generation: number;
  peerInformed?: boolean;
  reason?: string;
  message?: string;
}
