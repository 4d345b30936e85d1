import { z } from 'zod';

import { compareVersions } from '../../shared/version.js';
import { MERGED_SITE_TABLES, REPLACED_SITE_TABLES, SITE_TABLES } from '../../store/migrations.js';
import {
  BUCKETS,
  type HistoryIds,
  type MergedTable,
  type ReplacedTable,
  type TableShape,
} from './snapshot.js';
import { failoverErrors } from '../error-codes.js';

/**
 * The synchronisation protocol (served under /api/peer/sync by the appliance being pulled
 * from). The puller asks for a manifest (table and bucket digests, history ids after its
 * high-water marks), lists the rows of differing buckets, fetches the rows whose hash differs
 * and the blobs it lacks, applies everything in one transaction and compares digests.
 */
export type SyncMode = 'mirror' | 'merge-history-only';

export interface SyncManifest {
  appliance: string;
  productVersion: string;
  schemaVersion: number;
  /**
   * Replaced tables: the table's digest and, unless the puller already holds that digest, the
   * digest of each bucket of rows (see snapshot.ts), so only differing buckets' rows travel.
   */
  replaced: Record<ReplacedTable, TableShape & { digest: string; buckets?: string[] }>;
  /** History tables: the ids after the puller's high-water mark (all without one). */
  merged: Record<MergedTable, TableShape & HistoryIds>;
  /** Digests of this snapshot (see snapshot.ts): what the puller must reach. */
  digests: { replaced: string; merged: string };
  /** The appliance's change count in this snapshot (positions.ts; older versions send none). */
  changes?: number;
}

export const ManifestRequest = z
  .object({
    /** The puller's table digests: tables it already holds identically travel without buckets. */
    have: z.record(z.string(), z.string()).default({}),
    /** Per history table, the rowid of the peer up to which the puller holds every id. */
    since: z.record(z.string(), z.number().int().min(0)).default({}),
  })
  .default({ have: {}, since: {} });
export type ManifestRequest = z.infer<typeof ManifestRequest>;

export const BucketsRequest = z.object({
  table: z.enum(REPLACED_SITE_TABLES, {
    message: `must be one of ${REPLACED_SITE_TABLES.join(', ')}`,
  }),
  buckets: z
    .array(
      z
        .number()
        .int()
        .min(0)
        .max(BUCKETS - 1),
    )
    .max(BUCKETS),
});
export type BucketsRequest = z.infer<typeof BucketsRequest>;
/** Per requested bucket, its rows as `[key, sha256 of the row's canonical JSON]`, in key order. */
export interface BucketsAnswer {
  buckets: [string, string][][];
}

export const RowsRequest = z.object({
  table: z.enum(SITE_TABLES, { message: `must be one of ${SITE_TABLES.join(', ')}` }),
  keys: z.array(z.string()).max(1000, 'must list at most 1000 keys per request'),
});
export type RowsRequest = z.infer<typeof RowsRequest>;
/** Rows as their canonical JSON arrays, in the manifest's column order. */
export interface RowsAnswer {
  rows: string[];
}

export const RunRequest = z.object({
  mode: z.enum(['mirror', 'merge-history-only']).default('mirror'),
  /**
   * Start a pull after any that runs now, rather than join it: the primary waits for one that
   * saw the change it is about to acknowledge (writes wait for the backup, docs/failover.md).
   */
  fresh: z.boolean().default(false),
  /** The appliance to pull from (the caller), as it is reached from here. */
  peer: z.object({
    name: z.string().min(1),
    address: z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }),
    fingerprint: z.string().min(1),
  }),
});
export type RunRequest = z.infer<typeof RunRequest>;

export const SYNC_TABLES = { replaced: REPLACED_SITE_TABLES, merged: MERGED_SITE_TABLES };

/**
 * A newer appliance takes an older one's data (its schema is migrated forward on read); an
 * older one refuses a newer one's, whose rows it might not understand.
 */
export function checkPeerVersion(
  peer: { appliance: string; productVersion: string; schemaVersion: number },
  own: { productVersion: string; schemaVersion: number },
): void {
  if (
    peer.schemaVersion > own.schemaVersion ||
    compareVersions(peer.productVersion, own.productVersion) > 0
  )
    throw failoverErrors.SYNC_VERSION_NEWER(
      `"${peer.appliance}" runs Gatehouse ${peer.productVersion} (schema ${peer.schemaVersion}) and this appliance runs ${own.productVersion} (schema ${own.schemaVersion}): it cannot take a newer appliance's data. Upgrade this appliance first, then sync again.`,
    );
}
