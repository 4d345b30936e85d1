import type { EventLog } from '../site/events.js';
import type { BlobStore } from '../store/blobs.js';
import type { Db } from '../store/db.js';
import type { ClientGateway } from '../sessions/gateway.js';
import type { SiteCaBundle } from '../site/site-identity.js';
import type { ClusterNodes } from './nodes-store.js';

/** What the primary node's side of a cluster needs of its appliance. */
export interface ClusterHost {
  name: string;
  version: string;
  host: () => { host: string; port: number; fingerprint: string };
  key: () => string;
  /** The site certificate authority, handed to traffic nodes that hold another (S20). */
  siteCa: { readonly fingerprint: string; bundle(): SiteCaBundle };
  db: Db;
  blobs: BlobStore;
  events: EventLog;
  nodes: ClusterNodes;
  gateway: ClientGateway;
  /** Raised by every change of the configuration the nodes get (users, settings, installations). */
  configVersion: () => number;
  /** True while this appliance acts as the primary node (not a failover backup). */
  active: () => boolean;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}
