import type { Db } from '../../store/db.js';
import type { BlobStore } from '../../store/blobs.js';
import { SCHEMA_VERSION } from '../../store/migrations.js';
import { GatehouseError } from '../../shared/errors.js';
import { PRODUCT_VERSION } from '../../shared/version.js';
import type { PeerClient } from '../peer-client.js';
import { planRowCount, planSync, type LocalState, type SyncPlan } from './plan.js';
import {
  checkPeerVersion,
  SYNC_TABLES,
  type RowsAnswer,
  type SyncManifest,
  type SyncMode,
} from './protocol.js';
import {
  checkColumns,
  keysOf,
  mergedDigest,
  quoteIdentifier as q,
  replacedDigest,
  sha256,
  type RowHasher,
  type SyncedTable,
  type TableShape,
} from './snapshot.js';

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
 * stored first (content-addressed and durable one by one, so an interrupted sync finds them on
 * the next attempt), then every row change and the digest check happen in one transaction: a
 * reader sees the old site data or the new, and a digest mismatch rolls everything back.
 */
export class SitePuller {
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly hasher: RowHasher,
    private readonly progress: SyncProgress,
  ) {}

  async pull(peer: PeerClient, mode: SyncMode): Promise<PullOutcome> {
    for (let attempt = 1; ; attempt++) {
      this.progress.phase = 'manifest';
      const manifest = await peer.call<SyncManifest>('POST', '/api/peer/sync/manifest', {});
      checkPeerVersion(manifest, {
        productVersion: PRODUCT_VERSION,
        schemaVersion: SCHEMA_VERSION,
      });
      for (const t of SYNC_TABLES.replaced) checkColumns(this.db, t, manifest.replaced[t]);
      for (const t of SYNC_TABLES.merged) checkColumns(this.db, t, manifest.merged[t]);
      const plan = planSync(manifest, this.localState(manifest, mode), mode);
      const fetched = await this.fetchRows(peer, manifest, plan);
      if (fetched === 'changed') {
        if (attempt < ATTEMPTS) continue;
        throw new GatehouseError(
          'SYNC_PEER_CHANGING',
          409,
          `The data on ${manifest.appliance} changed during each of ${ATTEMPTS} attempts to sync. Sync again when it is less busy.`,
        );
      }
      const held = await this.fetchBlobs(peer, fetched);
      try {
        this.progress.phase = 'apply';
        const { rows, digest, orphans } = this.apply(manifest, mode, fetched);
        for (const sha of orphans) await this.blobs.removeIfUnreferenced(sha, this.referenced);
        return { rows, blobs: { fetched: held.length, bytes: this.progress.blobs.bytes }, digest };
      } finally {
        for (const sha of held) this.blobs.release(sha);
      }
    }
  }

  private localState(manifest: SyncManifest, mode: SyncMode): LocalState {
    const local: LocalState = { replaced: {}, merged: {} };
    if (mode === 'mirror')
      for (const t of SYNC_TABLES.replaced)
        local.replaced[t] = new Map(this.hasher.hashes(t, manifest.replaced[t]));
    for (const t of SYNC_TABLES.merged)
      local.merged[t] = new Set(keysOf(this.db, t, manifest.merged[t].key));
    return local;
  }

  /** Fetch the planned rows; each must still hash as in the manifest, or the peer moved on. */
  private async fetchRows(
    peer: PeerClient,
    manifest: SyncManifest,
    plan: SyncPlan,
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
    const expected = new Map<string, Map<string, string>>();
    for (const t of SYNC_TABLES.replaced) expected.set(t, new Map(manifest.replaced[t].rows));
    let changed = false;
    await inParallel(batches, PARALLEL_REQUESTS, async (b) => {
      const answer = await peer.call<RowsAnswer>('POST', '/api/peer/sync/rows', {
        table: b.table,
        keys: b.keys,
      });
      if (answer.rows.length !== b.keys.length) changed = true;
      const keyIndex = b.shape.columns.indexOf(b.shape.key);
      const hashes = expected.get(b.table);
      for (const json of answer.rows) {
        const values = JSON.parse(json) as unknown[];
        if (hashes && hashes.get(String(values[keyIndex])) !== sha256(json)) changed = true;
        b.out.values.push(values);
      }
      this.progress.rows.done += b.keys.length;
    });
    return changed ? 'changed' : fetched;
  }

  /** Store every blob the fetched rows name that is not here yet; returns the ones held. */
  private async fetchBlobs(peer: PeerClient, fetched: Fetched[]): Promise<string[]> {
    this.progress.phase = 'blobs';
    const wanted = new Set<string>();
    for (const f of fetched) {
      const column = BLOB_COLUMNS[f.table];
      const index = column ? f.shape.columns.indexOf(column) : -1;
      if (index < 0) continue;
      for (const v of f.values) if (typeof v[index] === 'string') wanted.add(v[index]);
    }
    const missing: string[] = [];
    for (const sha of wanted) if (!(await this.blobs.has(sha))) missing.push(sha);
    this.progress.blobs = { done: 0, total: missing.length, bytes: 0 };
    const held: string[] = [];
    try {
      await inParallel(missing, PARALLEL_REQUESTS * 2, async (sha) => {
        const stream = await peer.stream(`/api/peer/sync/blobs/${sha}`);
        const blob = await this.blobs.put(stream, { expectedSha256: sha });
        held.push(blob.sha256);
        this.progress.blobs.done++;
        this.progress.blobs.bytes += blob.size;
      });
    } catch (e) {
      for (const sha of held) this.blobs.release(sha);
      throw e;
    }
    return held;
  }

  private apply(
    manifest: SyncManifest,
    mode: SyncMode,
    fetched: Fetched[],
  ): { rows: Record<string, number>; digest: string; orphans: string[] } {
    const rows: Record<string, number> = {};
    const orphans: string[] = [];
    const digest = this.db.transaction(() => {
      if (mode === 'mirror')
        for (const t of SYNC_TABLES.replaced) {
          const theirs = new Set(manifest.replaced[t].rows.map(([k]) => k));
          const gone = keysOf(this.db, t, manifest.replaced[t].key).filter((k) => !theirs.has(k));
          const touched = gone.concat(
            fetched.filter((f) => f.table === t).flatMap((f) => f.values.map((v) => keyOf(f, v))),
          );
          if (t === 'files') orphans.push(...this.blobsOfFiles(touched));
          const del = this.db.prepare(
            `DELETE FROM ${q(t)} WHERE ${q(manifest.replaced[t].key)} = ?`,
          );
          for (const k of gone) del.run(k);
          rows[t] = gone.length;
        }
      for (const f of fetched) {
        const verb = (SYNC_TABLES.merged as readonly string[]).includes(f.table)
          ? 'INSERT OR IGNORE'
          : 'INSERT OR REPLACE';
        const insert = this.db.prepare(
          `${verb} INTO ${q(f.table)} (${f.shape.columns.map(q).join(', ')}) VALUES (${f.shape.columns.map(() => '?').join(', ')})`,
        );
        let n = 0;
        for (const v of f.values) n += insert.run(...v).changes;
        rows[f.table] = (rows[f.table] ?? 0) + n;
      }
      const mine = this.digest(manifest, mode);
      const theirs =
        mode === 'mirror'
          ? combined(manifest.digests.replaced, manifest.digests.merged)
          : manifest.digests.merged;
      if (mine !== theirs)
        throw new GatehouseError(
          'SYNC_DIGEST_MISMATCH',
          500,
          `After applying the sync from ${manifest.appliance} this appliance's site data does not match it (digest ${mine.slice(0, 12)}… against ${theirs.slice(0, 12)}…); nothing was changed. Sync again; if it persists, check both appliances' logs.`,
        );
      return mine;
    })();
    return { rows, digest, orphans };
  }

  /** This side's digest, over the same rows and ids the peer's manifest describes. */
  private digest(manifest: SyncManifest, mode: SyncMode): string {
    const merged = mergedDigest(
      SYNC_TABLES.merged.map((table) => {
        const here = new Set(keysOf(this.db, table, manifest.merged[table].key));
        return { table, ids: manifest.merged[table].ids.filter((id) => here.has(id)) };
      }),
    );
    if (mode !== 'mirror') return merged;
    const replaced = replacedDigest(
      SYNC_TABLES.replaced.map((table) => ({
        table,
        rows: this.hasher.hashes(table, manifest.replaced[table]),
      })),
    );
    return combined(replaced, merged);
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

export const combined = (replaced: string, merged: string) => sha256(`${replaced}:${merged}`);

function shapeOf(manifest: SyncManifest, table: SyncedTable): TableShape {
  const t =
    (manifest.replaced as Record<string, TableShape>)[table] ??
    (manifest.merged as Record<string, TableShape>)[table];
  return { key: t!.key, columns: t!.columns };
}

const keyOf = (f: Fetched, v: unknown[]) => String(v[f.shape.columns.indexOf(f.shape.key)]);
