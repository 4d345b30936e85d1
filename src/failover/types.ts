import type { PeerAddress } from './peer-client.js';

/**
 * The failover relationship as the rest of the appliance sees it. Kept by
 * src/failover/relationship.ts (appliance_settings 'failover.relationship'); read by the sync
 * service, the role shown in /health, the pages and the traffic switch.
 */
export interface RelationshipView {
  role: 'primary' | 'backup';
  /** Raised at every role change; an appliance that learns of a higher one steps down. */
  generation: number;
  /** This appliance's name and how the peer reaches it (the reverse connection details). */
  self: { name: string; address: PeerAddress };
  peer: { name: string; address: PeerAddress; fingerprint: string };
  establishedAt: string;
  /** S25: a backup with backup operations disabled neither syncs nor takes over. */
  backupOperationsEnabled: boolean;
  sync: { firstAfterMs: number; intervalMs: number };
}

/** What the synchronisation reports (shown on the Failover page, returned by Sync Now). */
export interface SyncResult {
  startedAt: string;
  finishedAt: string;
  from: string;
  /** Rows changed per table and blobs fetched. */
  rows: Record<string, number>;
  blobs: { fetched: number; bytes: number };
  /** Both sides' digest of the site data after the sync; equal when it succeeded. */
  digest: string;
  ms: number;
}
