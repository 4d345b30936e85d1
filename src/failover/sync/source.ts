import type { Db } from '../../store/db.js';
import { SCHEMA_VERSION } from '../../store/migrations.js';
import { PRODUCT_VERSION } from '../../shared/version.js';
import {
  SYNC_TABLES,
  type BucketsAnswer,
  type BucketsRequest,
  type ManifestRequest,
  type RowsAnswer,
  type RowsRequest,
  type SyncManifest,
} from './protocol.js';
import { mergedDigest, replacedDigest, rowsByKey, tableShape } from './snapshot.js';
import type { HistoryHasher } from './history-hasher.js';
import type { RowHasher } from './row-hasher.js';

/** The side being pulled from: answers manifests and rows from one consistent read. */
export class SyncSource {
  constructor(
    private readonly db: Db,
    private readonly hasher: RowHasher,
    private readonly history: HistoryHasher,
    private readonly appliance: string,
    /** This appliance's change count (positions.ts), read in the manifest's snapshot. */
    private readonly changes: () => number,
  ) {}

  manifest(req: ManifestRequest = { have: {}, since: {} }): SyncManifest {
    // One read transaction: the hashes, ids and digests describe a single snapshot.
    return this.db.transaction(() => {
      const replaced = {} as SyncManifest['replaced'];
      for (const table of SYNC_TABLES.replaced) {
        const shape = tableShape(this.db, table);
        const t = this.hasher.table(table, shape);
        replaced[table] =
          req.have[table] === t.digest
            ? { ...shape, digest: t.digest }
            : { ...shape, digest: t.digest, buckets: t.bucketDigests };
      }
      const merged = {} as SyncManifest['merged'];
      for (const table of SYNC_TABLES.merged) {
        const shape = tableShape(this.db, table);
        merged[table] = {
          ...shape,
          ...this.history.ids(table, shape.key, req.since[table] ?? 0),
        };
      }
      return {
        appliance: this.appliance,
        productVersion: PRODUCT_VERSION,
        schemaVersion: SCHEMA_VERSION,
        changes: this.changes(),
        replaced,
        merged,
        digests: {
          replaced: replacedDigest(
            SYNC_TABLES.replaced.map((table) => ({ table, digest: replaced[table].digest })),
          ),
          merged: mergedDigest(
            SYNC_TABLES.merged.map((table) => ({ table, digest: merged[table].digest })),
          ),
        },
      };
    })();
  }

  buckets(req: BucketsRequest): BucketsAnswer {
    const t = this.hasher.table(req.table, tableShape(this.db, req.table));
    return { buckets: req.buckets.map((b) => t.buckets[b]!) };
  }

  rows(req: RowsRequest): RowsAnswer {
    const shape = tableShape(this.db, req.table);
    return { rows: rowsByKey(this.db, req.table, shape, req.keys) };
  }
}
