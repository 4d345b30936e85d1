import { z } from 'zod';
import { GatehouseError } from '../../shared/errors.js';
import { compareVersions } from '../../shared/version.js';
import { MERGED_SITE_TABLES, REPLACED_SITE_TABLES, SITE_TABLES } from '../../store/migrations.js';
import type { MergedTable, ReplacedTable, TableShape } from './snapshot.js';

/**
 * The synchronisation protocol (served under /api/peer/sync by the appliance being pulled
 * from). The puller asks for a manifest, fetches the rows whose hash differs and the blobs it
 * lacks, applies everything in one transaction and compares digests.
 */
export type SyncMode = 'mirror' | 'merge-history-only';

export interface SyncManifest {
  appliance: string;
  productVersion: string;
  schemaVersion: number;
  /** Replaced tables: `[key, sha256 of the row's canonical JSON]`, in key order. */
  replaced: Record<ReplacedTable, TableShape & { rows: [string, string][] }>;
  /** History tables: the ids present, in key order. */
  merged: Record<MergedTable, TableShape & { ids: string[] }>;
  /** Digests of this snapshot (see snapshot.ts): what the puller must reach. */
  digests: { replaced: string; merged: string };
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
    throw new GatehouseError(
      'SYNC_VERSION_NEWER',
      409,
      `"${peer.appliance}" runs Gatehouse ${peer.productVersion} (schema ${peer.schemaVersion}) and this appliance runs ${own.productVersion} (schema ${own.schemaVersion}): it cannot take a newer appliance's data. Upgrade this appliance first, then sync again.`,
    );
}
