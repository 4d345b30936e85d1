import type { Db } from '../../store/db.js';
import type { PeerClient } from '../peer-client.js';
import { planRowCount, type BucketDiff, type SyncPlan } from './plan.js';
import type { BucketsAnswer, RowsAnswer, SyncManifest } from './protocol.js';
import type { RowHasher } from './row-hasher.js';
import {
  bucketDigest,
  sha256,
  tableShape,
  type ReplacedTable,
  type SyncedTable,
  type TableHashes,
  type TableShape,
} from './snapshot.js';
import { replacedOf, ROW_BATCH, shapeOf, type Fetched, type SyncProgress } from './pull-state.js';

const PARALLEL_REQUESTS = 4;

async function inParallel<T>(items: T[], limit: number, run: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The rows a pull needs from the peer: which buckets of the replaced tables differ, and the
 * planned rows, each checked against the manifest's hashes ('changed': the peer moved on).
 */
export class RowFetcher {
  constructor(
    private readonly db: Db,
    private readonly hasher: RowHasher,
    private readonly progress: SyncProgress,
  ) {}

  /**
   * The buckets whose digests differ, with the peer's rows in them (each bucket must match the
   * manifest's digest, or the peer moved on since the manifest).
   */
  async differingBuckets(
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
  async fetchRows(
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
}
