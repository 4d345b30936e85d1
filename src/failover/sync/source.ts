import type { Db } from '../../store/db.js';
import { SCHEMA_VERSION } from '../../store/migrations.js';
import { PRODUCT_VERSION } from '../../shared/version.js';
import { SYNC_TABLES, type RowsAnswer, type RowsRequest, type SyncManifest } from './protocol.js';
import {
  keysOf,
  mergedDigest,
  replacedDigest,
  rowsByKey,
  tableShape,
  type RowHasher,
} from './snapshot.js';

/** The side being pulled from: answers manifests and rows from one consistent read. */
export class SyncSource {
  constructor(
    private readonly db: Db,
    private readonly hasher: RowHasher,
    private readonly appliance: string,
  ) {}

  manifest(): SyncManifest {
    // One read transaction: the hashes, ids and digests describe a single snapshot.
    return this.db.transaction(() => {
      const replaced = {} as SyncManifest['replaced'];
      for (const table of SYNC_TABLES.replaced) {
        const shape = tableShape(this.db, table);
        replaced[table] = { ...shape, rows: this.hasher.hashes(table, shape) };
      }
      const merged = {} as SyncManifest['merged'];
      for (const table of SYNC_TABLES.merged) {
        const shape = tableShape(this.db, table);
        merged[table] = { ...shape, ids: keysOf(this.db, table, shape.key) };
      }
      return {
        appliance: this.appliance,
        productVersion: PRODUCT_VERSION,
        schemaVersion: SCHEMA_VERSION,
        replaced,
        merged,
        digests: {
          replaced: replacedDigest(
            SYNC_TABLES.replaced.map((table) => ({ table, rows: replaced[table].rows })),
          ),
          merged: mergedDigest(
            SYNC_TABLES.merged.map((table) => ({ table, ids: merged[table].ids })),
          ),
        },
      };
    })();
  }

  rows(req: RowsRequest): RowsAnswer {
    const shape = tableShape(this.db, req.table);
    return { rows: rowsByKey(this.db, req.table, shape, req.keys) };
  }
}
