import type { Db } from '../../store/db.js';
import type { BlobStore } from '../../store/blobs.js';
import { SCHEMA_VERSION } from '../../store/migrations.js';
import { GatehouseError } from '../../shared/errors.js';
import { PRODUCT_VERSION } from '../../shared/version.js';
import type { PeerClient } from '../peer-client.js';
import { BlobFetchError } from '../../store/blob-io.js';
import { BULK_BLOBS, bulkBlobsPath } from './blob-frames.js';
import { planRowCount, planSync, type BucketDiff, type SyncPlan } from './plan.js';
import {
  checkPeerVersion,
  SYNC_TABLES,
  type BucketsAnswer,
  type ManifestRequest,
  type RowsAnswer,
  type SyncManifest,
  type SyncMode,
} from './protocol.js';
import {
  bucketDigest,
  checkColumns,
  missingIds,
  replacedDigest,
  sha256,
  tableShape,
  type MergedTable,
  type ReplacedTable,
  type SyncedTable,
  type TableHashes,
  type TableShape,
} from './snapshot.js';
import type { RowHasher } from './row-hasher.js';
import { deleteRows, putRows } from '../../site/site-data.js';

/**
 * What a puller remembers of one peer between syncs: per history table, the peer's rowid up to
 * which every id is here and the digest of those ids. Forgotten on restart, and ignored every
 * `FULL_RECONCILE_EVERY` syncs, when every id travels again.
 */
export interface HistoryMarks {
  syncs: number;
  tables: Partial<Record<MergedTable, { through: number; digest: string }>>;
}

const FULL_RECONCILE_EVERY = 20;

export interface SyncProgress {
  phase: 'idle' | 'manifest' | 'rows' | 'blobs' | 'apply' | 'done' | 'failed';
  mode?: SyncMode;
  from?: string;
  startedAt?: string;
  rows: { done: number; total: number };
  blobs: { done: number; total: number; bytes: number };
  error?: { code: string; message: string };
}

export interface PullOutcome {
  rows: Record<string, number>;
  blobs: { fetched: number; bytes: number };
  digest: string;
}

const ROW_BATCH = 500;
const PARALLEL_REQUESTS = 4;
/** Fetched rows that changed on the peer since its manifest restart the diff, this many times. */
const ATTEMPTS = 3;
/** Bulk blob requests in flight at once (see blob-frames.ts): one streams while another waits. */
const BULK_REQUESTS = 3;
/** Written blobs are made durable together once this many bytes or blobs are waiting. */
const FLUSH_BYTES = 64 * 1024 * 1024;
const FLUSH_BLOBS = 2000;
/** From this many wanted blobs, list the blob directory once instead of checking each. */
const LIST_BLOBS_FROM = 256;

/** Which columns of a table name a blob the rows need. */
const BLOB_COLUMNS: Partial<Record<SyncedTable, string>> = {
  files: 'sha256',
  session_records: 'recording_sha256',
};

interface Fetched {
  table: SyncedTable;
  shape: TableShape;
  values: unknown[][];
}

async function inParallel<T>(items: T[], limit: number, run: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Pull the site data from a peer: in `mirror` mode the replaced tables become exactly the
 * peer's and history is merged; in `merge-history-only` mode only history is merged. Blobs are
 * stored first (content-addressed, made durable a batch at a time before any row refers to
 * them, so an interrupted sync finds the flushed ones on the next attempt), then every row change and the digest check happen in one transaction: a
 * reader sees the old site data or the new, and a digest mismatch rolls everything back.
 */
export class SitePuller {
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly hasher: RowHasher,
    private readonly progress: SyncProgress,
    private readonly marks: HistoryMarks,
  ) {}

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
      const diffs = local ? await this.differingBuckets(peer, manifest, local) : [];
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
        const blobs = this.fetchBlobs(
          peer,
          feed,
          plan.fetch.reduce((n, f) => n + (BLOB_COLUMNS[f.table] ? f.keys.length : 0), 0),
        );
        blobs.catch(() => undefined);
        try {
          fetched = await this.fetchRows(peer, manifest, plan, diffs, (f, values) =>
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
        throw new GatehouseError(
          'SYNC_PEER_CHANGING',
          409,
          `The data on ${manifest.appliance} changed during each of ${ATTEMPTS} attempts to sync. Sync again when it is less busy.`,
        );
      }
      try {
        this.progress.phase = 'apply';
        const { rows, digest, orphans } = this.apply(manifest, mode, plan!, fetched);
        this.marks.syncs++;
        for (const t of SYNC_TABLES.merged)
          this.marks.tables[t] = {
            through: manifest.merged[t].through,
            digest: manifest.merged[t].digest,
          };
        for (const sha of orphans) await this.blobs.removeIfUnreferenced(sha, this.referenced);
        return { rows, blobs: { fetched: held.length, bytes: this.progress.blobs.bytes }, digest };
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

  /**
   * The buckets whose digests differ, with the peer's rows in them (each bucket must match the
   * manifest's digest, or the peer moved on since the manifest).
   */
  private async differingBuckets(
    peer: PeerClient,
    manifest: SyncManifest,
    localOwnShape: Record<ReplacedTable, TableHashes>,
  ): Promise<{ diff: BucketDiff; expected: Map<string, string> }[] | 'changed'> {
    const out: { diff: BucketDiff; expected: Map<string, string> }[] = [];
    for (const table of replacedOf(manifest)) {
      const remote = manifest.replaced[table];
      const shape = { key: remote.key, columns: remote.columns };
      const own = tableShape(this.db, table);
      // An older peer's rows have fewer columns: hash ours as it does.
      const local =
        own.columns.join(',') === shape.columns.join(',')
          ? localOwnShape[table]
          : this.hasher.table(table, shape);
      if (remote.digest === local.digest) continue;
      if (!remote.buckets) return 'changed';
      const indexes = remote.buckets.flatMap((d, i) => (d === local.bucketDigests[i] ? [] : [i]));
      const answer = await peer.call<BucketsAnswer>('POST', '/api/peer/sync/buckets', {
        table,
        buckets: indexes,
      });
      if (answer.buckets.some((rows, n) => bucketDigest(rows) !== remote.buckets![indexes[n]!]))
        return 'changed';
      out.push({
        diff: { table, theirs: answer.buckets, mine: indexes.map((i) => local.buckets[i]!) },
        expected: new Map(answer.buckets.flat()),
      });
    }
    return out;
  }

  /** Fetch the planned rows; each must still hash as in the manifest, or the peer moved on. */
  private async fetchRows(
    peer: PeerClient,
    manifest: SyncManifest,
    plan: SyncPlan,
    diffs: { diff: BucketDiff; expected: Map<string, string> }[],
    onBatch: (f: Fetched, values: unknown[][]) => void,
  ): Promise<Fetched[] | 'changed'> {
    this.progress.phase = 'rows';
    this.progress.rows = { done: 0, total: planRowCount(plan) };
    const batches: { table: SyncedTable; shape: TableShape; keys: string[]; out: Fetched }[] = [];
    const fetched: Fetched[] = [];
    for (const f of plan.fetch) {
      const shape = shapeOf(manifest, f.table);
      const out: Fetched = { table: f.table, shape, values: [] };
      fetched.push(out);
      for (let i = 0; i < f.keys.length; i += ROW_BATCH)
        batches.push({ table: f.table, shape, keys: f.keys.slice(i, i + ROW_BATCH), out });
    }
    const expected = new Map<string, Map<string, string>>(
      diffs.map((d) => [d.diff.table, d.expected]),
    );
    let changed = false;
    await inParallel(batches, PARALLEL_REQUESTS, async (b) => {
      const answer = await peer.call<RowsAnswer>('POST', '/api/peer/sync/rows', {
        table: b.table,
        keys: b.keys,
      });
      if (answer.rows.length !== b.keys.length) changed = true;
      const keyIndex = b.shape.columns.indexOf(b.shape.key);
      const hashes = expected.get(b.table);
      const values = answer.rows.map((json) => {
        const v = JSON.parse(json) as unknown[];
        if (hashes && hashes.get(String(v[keyIndex])) !== sha256(json)) changed = true;
        return v;
      });
      b.out.values.push(...values);
      this.progress.rows.done += b.keys.length;
      if (!changed) onBatch(b.out, values);
    });
    return changed ? 'changed' : fetched;
  }

  /**
   * Store every blob the feed names that is not here yet, while the feed still fills; returns
   * the ones held once the feed ended. `expectedRows` (rows naming blobs) tells whether to list
   * the blob directory once (many) or ask about each blob.
   */
  private async fetchBlobs(
    peer: PeerClient,
    feed: BlobFeed,
    expectedRows: number,
  ): Promise<string[]> {
    const listing = expectedRows >= LIST_BLOBS_FROM ? this.blobs.present() : undefined;
    listing?.catch(() => undefined);
    const seen = new Set<string>();
    feed.filter = async (shas) => {
      const fresh = shas.filter((sha) => !seen.has(sha));
      for (const sha of fresh) seen.add(sha);
      const here = await listing;
      const missing: string[] = [];
      for (const sha of fresh)
        if (here ? !here.has(sha) : !(await this.blobs.has(sha))) missing.push(sha);
      this.progress.blobs.total += missing.length;
      return missing;
    };
    this.progress.blobs = { done: 0, total: 0, bytes: 0 };
    const held: string[] = [];
    const batch = this.blobs.batch();
    // Blobs become durable a flush at a time, so an interrupted sync keeps what was flushed.
    const flush = async () => {
      for (const blob of await batch.flush()) {
        held.push(blob.sha256);
        this.progress.blobs.done++;
        this.progress.blobs.bytes += blob.size;
      }
    };
    // A flush runs while the transfer goes on; the next starts once it ended and enough waits
    // (checked when it ends and as fetched blobs are told).
    let flushing: Promise<void> | undefined;
    let flushFailed: { error: unknown } | undefined;
    const startFlush = () => {
      flushing = flush().then(
        () => {
          flushing = undefined;
          fetched();
        },
        (error: unknown) => {
          flushing = undefined;
          flushFailed ??= { error };
        },
      );
    };
    const fetched = () => {
      if (flushing || flushFailed) return;
      if (batch.unflushedBytes >= FLUSH_BYTES || batch.unflushedCount >= FLUSH_BLOBS) startFlush();
    };
    try {
      const request = async () => {
        for (let shas = await feed.next(); shas; shas = await feed.next()) {
          if (feed.ended) this.progress.phase = 'blobs';
          if (flushFailed) throw flushFailed.error;
          try {
            await batch.fetch(peer.prepareGet(bulkBlobsPath(shas)), shas, fetched);
          } catch (e) {
            throw e instanceof BlobFetchError ? peer.fetchFailed(e.failure) : e;
          }
        }
      };
      // One failed request stops the others at their next request (the feed fails them); the
      // blobs are discarded once none is under way.
      const requests = await Promise.allSettled(
        Array.from({ length: BULK_REQUESTS }, () =>
          request().catch((e: unknown) => {
            feed.abort(e);
            throw e;
          }),
        ),
      );
      const failed = requests.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      this.progress.phase = 'blobs';
      while (flushing) await flushing;
      if (flushFailed) throw flushFailed.error;
      await flush();
    } catch (e) {
      while (flushing) await flushing;
      await batch.discard();
      for (const sha of held) this.blobs.release(sha);
      throw e;
    }
    return held;
  }

  private apply(
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
        throw new GatehouseError(
          'SYNC_DIGEST_MISMATCH',
          500,
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

  private blobsOfFiles(names: string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < names.length; i += ROW_BATCH) {
      const batch = names.slice(i, i + ROW_BATCH);
      const sql = `SELECT DISTINCT sha256 FROM files WHERE name IN (${batch.map(() => '?').join(', ')})`;
      for (const r of this.db.prepare(sql).all(...batch) as { sha256: string }[])
        out.push(r.sha256);
    }
    return out;
  }

  private readonly referenced = (sha: string): boolean =>
    (
      this.db
        .prepare(
          `SELECT (SELECT count(*) FROM files WHERE sha256 = @sha) + (SELECT count(*) FROM session_records WHERE recording_sha256 = @sha) AS n`,
        )
        .get({ sha }) as { n: number }
    ).n > 0;
}

/**
 * The replaced tables the peer sent. An older primary lacks the tables of a later release: those
 * stay as they are here (the backup's own, until the primary runs this release too).
 */
const replacedOf = (manifest: SyncManifest): ReplacedTable[] =>
  SYNC_TABLES.replaced.filter((t) => manifest.replaced[t] !== undefined);

export const combined = (replaced: string, merged: string) => sha256(`${replaced}:${merged}`);

function shapeOf(manifest: SyncManifest, table: SyncedTable): TableShape {
  const t =
    (manifest.replaced as Record<string, TableShape>)[table] ??
    (manifest.merged as Record<string, TableShape>)[table];
  return { key: t!.key, columns: t!.columns };
}

const keyOf = (f: Fetched, v: unknown[]) => String(v[f.shape.columns.indexOf(f.shape.key)]);

/** The blobs `values` (rows of `f.table`) name. */
function blobsNamed(f: Fetched, values: unknown[][]): string[] {
  const column = BLOB_COLUMNS[f.table];
  const index = column ? f.shape.columns.indexOf(column) : -1;
  if (index < 0) return [];
  return values.flatMap((v) => (typeof v[index] === 'string' ? [v[index]] : []));
}

const ABORTED = 'the fetch of rows ended early';
const isAborted = (e: unknown) => e instanceof Error && e.message === ABORTED;

/**
 * The blobs still to fetch, named as rows arrive (filtered to the missing ones), taken by the
 * bulk requests `size` at a time; a short batch only once no more are coming.
 */
export class BlobFeed {
  /** Which of the named blobs are to be fetched (set by the fetcher). */
  filter: (shas: string[]) => Promise<string[]> = async (shas) => shas;
  ended = false;
  private readonly queue: string[] = [];
  private filtering: Promise<void> = Promise.resolve();
  private failed: unknown;
  private wake: (() => void) | undefined;

  constructor(private readonly size: number) {}

  push(shas: string[]): void {
    if (!shas.length) return;
    this.filtering = this.filtering.then(async () => {
      try {
        this.queue.push(...(await this.filter(shas)));
      } catch (e) {
        this.failed ??= e;
      }
      this.notify();
    });
  }

  /** No more names: what is queued goes, then the requests finish. */
  end(): void {
    void this.filtering.then(() => {
      this.ended = true;
      this.notify();
    });
  }

  /** Stop: every request waiting or asking next fails with `e`. */
  abort(e: unknown = new Error(ABORTED)): void {
    this.failed ??= e;
    this.ended = true;
    this.notify();
  }

  /** The next batch to request; undefined once the feed ended and is empty. */
  async next(): Promise<string[] | undefined> {
    for (;;) {
      if (this.failed !== undefined) throw this.failed;
      if (this.queue.length >= this.size || (this.ended && this.queue.length))
        return this.queue.splice(0, this.size);
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        const before = this.wake;
        this.wake = () => {
          before?.();
          resolve();
        };
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
