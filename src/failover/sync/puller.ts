import type { Db } from '../../store/db.js';
import type { BlobStore } from '../../store/blobs.js';
import { SCHEMA_VERSION } from '../../store/migrations.js';

import { PRODUCT_VERSION } from '../../shared/version.js';
import type { PeerClient } from '../peer-client.js';
import { BlobFeed, isAborted } from './blob-feed.js';
import { BlobFetcher } from './blob-fetcher.js';
import { BULK_BLOBS } from './blob-frames.js';
import { planSync } from './plan.js';
import {
  checkPeerVersion,
  SYNC_TABLES,
  type ManifestRequest,
  type SyncManifest,
  type SyncMode,
} from './protocol.js';
import { PullApplier } from './pull-apply.js';
import {
  BLOB_COLUMNS,
  blobsNamed,
  replacedOf,
  type Fetched,
  type HistoryMarks,
  type PullOutcome,
  type SyncProgress,
} from './pull-state.js';
import type { RowHasher } from './row-hasher.js';
import { RowFetcher } from './row-fetch.js';
import {
  checkColumns,
  missingIds,
  tableShape,
  type ReplacedTable,
  type TableHashes,
} from './snapshot.js';
import { failoverErrors } from '../error-codes.js';

export type { HistoryMarks, PullOutcome, SyncProgress } from './pull-state.js';

const FULL_RECONCILE_EVERY = 20;
/** Fetched rows that changed on the peer since its manifest restart the diff, this many times. */
const ATTEMPTS = 3;

/**
 * Pull the site data from a peer: in `mirror` mode the replaced tables become exactly the
 * peer's and history is merged; in `merge-history-only` mode only history is merged. Blobs are
 * stored first (content-addressed, made durable a batch at a time before any row refers to
 * them, so an interrupted sync finds the flushed ones on the next attempt; `BlobFetcher`), then
 * every row change and the digest check happen in one transaction (`PullApplier`): a reader
 * sees the old site data or the new, and a digest mismatch rolls everything back. Which rows
 * to fetch is `RowFetcher`'s.
 */
export class SitePuller {
  private readonly rows: RowFetcher;
  private readonly blobFetcher: BlobFetcher;
  private readonly applier: PullApplier;

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly hasher: RowHasher,
    private readonly progress: SyncProgress,
    private readonly marks: HistoryMarks,
  ) {
    this.rows = new RowFetcher(db, hasher, progress);
    this.blobFetcher = new BlobFetcher(blobs, progress);
    this.applier = new PullApplier(db, hasher);
  }

  async pull(peer: PeerClient, mode: SyncMode): Promise<PullOutcome> {
    let useMarks = this.marks.syncs % FULL_RECONCILE_EVERY !== 0;
    for (let attempt = 1; ; attempt++) {
      this.progress.phase = 'manifest';
      const local = mode === 'mirror' ? this.localHashes() : undefined;
      const request: ManifestRequest = { have: {}, since: {} };
      for (const t of SYNC_TABLES.replaced) if (local) request.have[t] = local[t].digest;
      if (useMarks)
        for (const t of SYNC_TABLES.merged) {
          const mark = this.marks.tables[t];
          if (mark) request.since[t] = mark.through;
        }
      const manifest = await peer.call<SyncManifest>('POST', '/api/peer/sync/manifest', request);
      checkPeerVersion(manifest, {
        productVersion: PRODUCT_VERSION,
        schemaVersion: SCHEMA_VERSION,
      });
      for (const t of replacedOf(manifest)) checkColumns(this.db, t, manifest.replaced[t]);
      for (const t of SYNC_TABLES.merged) checkColumns(this.db, t, manifest.merged[t]);
      // The peer's history up to a mark changed (pruned, restored): every id travels again.
      if (
        useMarks &&
        SYNC_TABLES.merged.some(
          (t) =>
            request.since[t] !== undefined &&
            manifest.merged[t].sinceDigest !== this.marks.tables[t]?.digest,
        )
      ) {
        useMarks = false;
        attempt--;
        continue;
      }
      const diffs = local ? await this.rows.differingBuckets(peer, manifest, local) : [];
      const plan =
        diffs === 'changed'
          ? undefined
          : planSync(
              diffs.map((d) => d.diff),
              SYNC_TABLES.merged.map((table) => ({
                table,
                missing: missingIds(
                  this.db,
                  table,
                  manifest.merged[table].key,
                  manifest.merged[table].ids,
                ),
              })),
            );
      let fetched: Fetched[] | 'changed' = 'changed';
      let held: string[] = [];
      if (diffs !== 'changed' && plan) {
        // Blobs travel while rows still arrive: each batch of rows hands over the blobs it names.
        const feed = new BlobFeed(BULK_BLOBS);
        const blobs = this.blobFetcher.fetchBlobs(
          peer,
          feed,
          plan.fetch.reduce((n, f) => n + (BLOB_COLUMNS[f.table] ? f.keys.length : 0), 0),
        );
        blobs.catch(() => undefined);
        try {
          fetched = await this.rows.fetchRows(peer, manifest, plan, diffs, (f, values) =>
            feed.push(blobsNamed(f, values)),
          );
        } finally {
          // A failed or outdated fetch of rows ends the blobs' too; they stay as garbage.
          if (fetched === 'changed') feed.abort();
          else feed.end();
        }
        held = await blobs.catch((e: unknown) => {
          if (fetched === 'changed' && isAborted(e)) return [];
          throw e;
        });
        if (fetched === 'changed') for (const sha of held) this.blobs.release(sha);
      }
      if (fetched === 'changed') {
        if (attempt < ATTEMPTS) continue;
        throw failoverErrors.SYNC_PEER_CHANGING(
          `The data on ${manifest.appliance} changed during each of ${ATTEMPTS} attempts to sync. Sync again when it is less busy.`,
        );
      }
      try {
        this.progress.phase = 'apply';
        const { rows, digest, orphans } = this.applier.apply(manifest, mode, plan!, fetched);
        this.marks.syncs++;
        for (const t of SYNC_TABLES.merged)
          this.marks.tables[t] = {
            through: manifest.merged[t].through,
            digest: manifest.merged[t].digest,
          };
        for (const sha of orphans)
          await this.blobs.removeIfUnreferenced(sha, this.applier.referenced);
        const through =
          manifest.changes === undefined
            ? undefined
            : { from: manifest.appliance, changes: manifest.changes };
        return {
          rows,
          blobs: { fetched: held.length, bytes: this.progress.blobs.bytes },
          digest,
          ...(through ? { through } : {}),
        };
      } finally {
        for (const sha of held) this.blobs.release(sha);
      }
    }
  }

  /** This appliance's replaced tables, hashed in its own column order. */
  private localHashes(): Record<ReplacedTable, TableHashes> {
    const out = {} as Record<ReplacedTable, TableHashes>;
    for (const t of SYNC_TABLES.replaced) out[t] = this.hasher.table(t, tableShape(this.db, t));
    return out;
  }
}
