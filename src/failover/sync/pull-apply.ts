import type { Db } from '../../store/db.js';

import { deleteRows, putRows } from '../../site/site-data.js';
import type { SyncPlan } from './plan.js';
import { SYNC_TABLES, type SyncManifest, type SyncMode } from './protocol.js';
import type { RowHasher } from './row-hasher.js';
import { missingIds, replacedDigest, sha256 } from './snapshot.js';
import { keyOf, replacedOf, ROW_BATCH, type Fetched } from './pull-state.js';
import { failoverErrors } from '../error-codes.js';

const combined = (replaced: string, merged: string) => sha256(`${replaced}:${merged}`);

/**
 * The last step of a pull: every row change and the digest check in one transaction, through
 * the site-data copier (src/site/site-data.ts); a mismatch rolls everything back.
 */
export class PullApplier {
  constructor(
    private readonly db: Db,
    private readonly hasher: RowHasher,
  ) {}

  apply(
    manifest: SyncManifest,
    mode: SyncMode,
    plan: SyncPlan,
    fetched: Fetched[],
  ): { rows: Record<string, number>; digest: string; orphans: string[] } {
    const rows: Record<string, number> = {};
    const orphans: string[] = [];
    const applyAll = this.db.transaction(() => {
      if (mode === 'mirror')
        for (const t of replacedOf(manifest)) {
          const gone = plan.delete.find((d) => d.table === t)?.keys ?? [];
          const touched = gone.concat(
            fetched.filter((f) => f.table === t).flatMap((f) => f.values.map((v) => keyOf(f, v))),
          );
          if (t === 'files') orphans.push(...this.blobsOfFiles(touched));
          deleteRows(this.db, t, gone);
          rows[t] = gone.length;
        }
      for (const f of fetched)
        rows[f.table] = (rows[f.table] ?? 0) + putRows(this.db, f.table, f.shape.columns, f.values);
      const lacking = SYNC_TABLES.merged.flatMap((t) =>
        missingIds(this.db, t, manifest.merged[t].key, manifest.merged[t].ids),
      );
      const mine =
        mode === 'mirror'
          ? combined(
              replacedDigest(
                replacedOf(manifest).map((table) => ({
                  table,
                  digest: this.hasher.table(table, manifest.replaced[table]).digest,
                })),
              ),
              manifest.digests.merged,
            )
          : manifest.digests.merged;
      const theirs =
        mode === 'mirror'
          ? combined(manifest.digests.replaced, manifest.digests.merged)
          : manifest.digests.merged;
      if (mine !== theirs || lacking.length > 0)
        throw failoverErrors.SYNC_DIGEST_MISMATCH(
          `After applying the sync from ${manifest.appliance} this appliance's site data does not match it (digest ${mine.slice(0, 12)}… against ${theirs.slice(0, 12)}…, ${lacking.length} history rows missing); nothing was changed. Sync again; if it persists, check both appliances' logs.`,
        );
      return mine;
    });
    let digest: string;
    try {
      digest = applyAll();
    } catch (e) {
      // The hashes taken inside the rolled-back transaction describe rows that are not there.
      this.hasher.forget();
      throw e;
    }
    return { rows, digest, orphans };
  }

  blobsOfFiles(names: string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < names.length; i += ROW_BATCH) {
      const batch = names.slice(i, i + ROW_BATCH);
      const sql = `SELECT DISTINCT sha256 FROM files WHERE name IN (${batch.map(() => '?').join(', ')})`;
      for (const r of this.db.prepare(sql).all(...batch) as { sha256: string }[])
        out.push(r.sha256);
    }
    return out;
  }

  readonly referenced = (sha: string): boolean =>
    (
      this.db
        .prepare(
          `SELECT (SELECT count(*) FROM files WHERE sha256 = @sha) + (SELECT count(*) FROM session_records WHERE recording_sha256 = @sha) AS n`,
        )
        .get({ sha }) as { n: number }
    ).n > 0;
}
