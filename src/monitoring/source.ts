import type { EventLog } from '../site/events.js';

/**
 * What the metrics read, at scrape time, from the appliance they describe. The appliance
 * wiring (src/appliance/monitoring.ts) implements it from its domain services; the metrics
 * know nothing else of the appliance.
 */
export interface MonitoredAppliance {
  name: string;
  productVersion: string;
  baseVersion: string;
  events: Pick<EventLog, 'subscribe' | 'latest'>;
  failover(): FailoverSnapshot;
  /** The traffic nodes, when this appliance is a primary node; empty otherwise. */
  clusterNodes(): ClusterNodeSnapshot[];
  /** Whether this appliance takes new client connections now (not a backup, not drained). */
  acceptingNewClients(): boolean;
  connectedClients(): { kind: string }[];
  activeSessions(): number;
  updates(): UpdatesSnapshot;
  storage(): StorageSnapshot;
  /** The syslog forwarder, once started. */
  syslog(): { connected: boolean; queued: number; sent: number; dropped: number } | undefined;
  /** The TLS certificate's end of validity (ms since the epoch). */
  certificateNotAfter: number;
}

export interface FailoverSnapshot {
  role: 'standalone' | 'primary' | 'backup';
  generation: number | null;
  /** Whether the last heartbeat reached the peer; null without a relationship. */
  peerReachable: boolean | null;
  peerLastContact: number | null;
  lastSync: { finishedAt: string; ms: number } | null;
}

export interface ClusterNodeSnapshot {
  name: string;
  region: string;
  accepting: boolean;
  /** Heard from recently and ready. */
  reachable: boolean;
  /** Installing or verifying a software update. */
  updating: boolean;
  eligible: boolean;
  connectedClients: number | null;
  lastContact: number | null;
  productVersion: string | null;
}

export interface UpdatesSnapshot {
  /** Install history, newest first. */
  history: { at: string; event: string }[];
  inProgress: boolean;
  lastCheck: { at: string; error?: string } | undefined;
}

export interface StorageSnapshot {
  databaseBytes: number;
  diskTotalBytes: number;
  diskFreeBytes: number;
  /** Walks the blob directory: the metrics cache it. */
  blobStoreBytes: () => Promise<number>;
}
