import type { EventLog } from '../site/events.js';
import type { BlobStore } from '../store/blobs.js';
import type { Db } from '../store/db.js';
import type { DataDir } from './datadir.js';

/** What every part of a running appliance is wired to: its files, stores, event log and name. */
export interface ApplianceBasics {
  readonly dir: DataDir;
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly events: EventLog;
  readonly identity: { readonly name: string; readonly hostnames: string[] };
}
