import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';

import { fsyncPath } from '../shared/fs.js';
import type { BlobFetch } from './blob-fetch.js';
import { BlobIo } from './blob-io.js';
import type { BlobInfo, TmpBlob } from './blob-types.js';
import { storeErrors } from './error-codes.js';

export type { BlobInfo, TmpBlob } from './blob-types.js';

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Content-addressed store for file-store files and recordings: each blob lives at
 * `sha256/ab/abcdef…`, is written to a temporary file, fsynced and renamed into place, so a
 * blob that exists is always whole. Rows in the database refer to blobs by digest.
 */
export class BlobStore {
  private readonly pending = new Map<string, number>();
  /** Writes the blobs of batches (see `BlobBatch`) on a thread of its own. */
  readonly io: BlobIo;

  constructor(readonly root: string) {
    this.io = new BlobIo(root);
  }

  async init(): Promise<void> {
    await fsp.mkdir(path.join(this.root, 'sha256'), { recursive: true });
    await fsp.mkdir(path.join(this.root, 'tmp'), { recursive: true });
    // Anything left in tmp/ was never acknowledged: a crash happened mid-write.
    for (const f of await fsp.readdir(path.join(this.root, 'tmp'))) {
      await fsp.rm(path.join(this.root, 'tmp', f), { force: true });
    }
  }

  /** Stop the blob thread (blobs not flushed stay in tmp/, removed by the next `init()`). */
  close(): Promise<void> {
    return this.io.close();
  }

  pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw storeErrors.BLOB_BAD_DIGEST(`Not a sha256 digest: ${sha256}`);
    return path.join(this.root, 'sha256', sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await fsp.access(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The digests of every blob here, from one pass over the blob directories (cheaper than a
   * `has()` per blob when many are asked about).
   */
  async present(): Promise<Set<string>> {
    const out = new Set<string>();
    const top = path.join(this.root, 'sha256');
    for (const dir of await fsp.readdir(top)) {
      let names: string[];
      try {
        names = await fsp.readdir(path.join(top, dir));
      } catch {
        continue;
      }
      for (const name of names) if (SHA256.test(name)) out.add(name);
    }
    return out;
  }

  /**
   * Stream `source` into the store. With `limit`, a source longer than that is refused; with
   * `expectedSha256`, a source whose digest differs is refused. The blob is durable on return.
   * While the caller links the blob to a row, pass the result to `release()` afterwards so a
   * concurrent garbage collection does not remove it in between.
   */
  async put(
    source: Readable | Uint8Array,
    opts: { limit?: number; expectedSha256?: string } = {},
  ): Promise<BlobInfo> {
    const written = await this.writeTemporary(source, opts);
    this.hold(written.sha256);
    const dest = this.pathOf(written.sha256);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.rename(written.tmp, dest);
    await fsyncPath(path.dirname(dest));
    return { sha256: written.sha256, size: written.size };
  }

  /**
   * Take `file` (on the store's file system, finished: nothing writes it any more) into the
   * store without copying it: made durable, hashed, then hard-linked into place. The file stays
   * where it is until the caller removes it, so a crash before the caller recorded the blob
   * leaves the file to be taken again. Where a link is not possible (another file system) the
   * file is copied. Pass the result to `release()` as with `put`. `known`: the file is already
   * durable and its writer hashed it as it wrote (a session recording), so it is not read again.
   */
  async adopt(file: string, known?: BlobInfo): Promise<BlobInfo> {
    const { sha256, size } = known ?? (await this.hashDurable(file));
    this.hold(sha256);
    const dest = this.pathOf(sha256);
    try {
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.link(file, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // EEXIST: a blob of this content is already here (blobs are immutable).
      if (code !== 'EEXIST') {
        this.release(sha256);
        if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EMLINK')
          return this.put(createReadStream(file));
        throw e;
      }
    }
    await fsyncPath(path.dirname(dest));
    return { sha256, size };
  }

  /** Make a file durable and hash it. */
  private async hashDurable(file: string): Promise<BlobInfo> {
    const fh = await fsp.open(file, 'r');
    const hash = createHash('sha256');
    let size = 0;
    try {
      await fh.sync();
      for await (const chunk of fh.createReadStream({
        highWaterMark: 1024 * 1024,
        autoClose: false,
      })) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
    } finally {
      await fh.close();
    }
    return { sha256: hash.digest('hex'), size };
  }

  /**
   * A writer for many blobs that makes them durable together (see `BlobBatch`): one file-system
   * sync per flush instead of two fsyncs per blob.
   */
  batch(): BlobBatch {
    return new BlobBatch(this);
  }

  /** Write `source` to a file in tmp/, checking its size and digest, and fsync it. */
  private async writeTemporary(
    source: Readable | Uint8Array,
    opts: { limit?: number; expectedSha256?: string },
  ): Promise<TmpBlob> {
    const tmp = path.join(this.root, 'tmp', randomBytes(12).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      const chunks: AsyncIterable<Uint8Array> | Uint8Array[] =
        source instanceof Uint8Array ? [source] : (source as AsyncIterable<Uint8Array>);
      for await (const chunk of chunks) {
        size += chunk.length;
        if (opts.limit !== undefined && size > opts.limit) {
          throw storeErrors.BLOB_TOO_LARGE(
            `The upload is larger than the limit of ${opts.limit} bytes. Upload a smaller file or raise the limit.`,
          );
        }
        hash.update(chunk);
        await fh.write(chunk);
      }
      await fh.sync();
    } catch (e) {
      await fh.close();
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    const sha256 = hash.digest('hex');
    if (opts.expectedSha256 && opts.expectedSha256 !== sha256) {
      await fsp.rm(tmp, { force: true });
      throw storeErrors.BLOB_DIGEST_MISMATCH(
        `The content's sha256 is ${sha256}, not the expected ${opts.expectedSha256}; it was altered or truncated in transit.`,
      );
    }
    return { sha256, size, tmp };
  }

  /** Protect a blob from garbage collection until `release()`. */
  hold(sha256: string): void {
    this.pending.set(sha256, (this.pending.get(sha256) ?? 0) + 1);
  }

  release(sha256: string): void {
    const n = (this.pending.get(sha256) ?? 1) - 1;
    if (n <= 0) this.pending.delete(sha256);
    else this.pending.set(sha256, n);
  }

  read(sha256: string): Readable {
    return createReadStream(this.pathOf(sha256));
  }

  async size(sha256: string): Promise<number> {
    return (await fsp.stat(this.pathOf(sha256))).size;
  }

  /** Remove a blob no row refers to. `isReferenced` is asked after the pending check. */
  async removeIfUnreferenced(
    sha256: string,
    isReferenced: (sha: string) => boolean,
  ): Promise<boolean> {
    if (this.pending.has(sha256) || isReferenced(sha256)) return false;
    await fsp.rm(this.pathOf(sha256), { force: true });
    return true;
  }

  /** Verify a blob's content against its name. */
  async verify(sha256: string): Promise<boolean> {
    const hash = createHash('sha256');
    try {
      for await (const chunk of this.read(sha256)) hash.update(chunk as Buffer);
    } catch {
      return false;
    }
    return hash.digest('hex') === sha256;
  }
}

/**
 * Blobs written without an fsync each and made durable together by `flush()`: every file
 * written so far is synced while still in tmp/ (one `syncfs`, or an fsync per file where
 * `sync -f` is unavailable or the files are few), then renamed into place, then the directories
 * are synced. So a blob at its final path is always whole, and every blob `flush()` returned is
 * on disk: flush before committing rows that refer to them. Blobs are fetched, hashed and
 * written on the store's blob thread (see `BlobIo`). Blobs stay held (see
 * `BlobStore.hold`) until the caller releases them; `discard()` removes the unflushed ones.
 */
export class BlobBatch {
  private written: TmpBlob[] = [];
  private flushing: Promise<unknown> = Promise.resolve();
  /** Bytes written and not yet flushed. */
  unflushedBytes = 0;

  constructor(private readonly store: BlobStore) {}

  get unflushedCount(): number {
    return this.written.length;
  }

  /**
   * Fetch the blobs of a peer's bulk answer into the batch, on the store's blob thread (see
   * `BlobIo.fetch`): written, not yet flushed. `written` runs as they arrive, a few at a time.
   */
  async fetch(fetch: BlobFetch, shas: string[], written: () => void): Promise<void> {
    await this.store.io.fetch(fetch, shas, (blobs) => {
      for (const blob of blobs) {
        this.store.hold(blob.sha256);
        this.written.push(blob);
        this.unflushedBytes += blob.size;
      }
      written();
    });
  }

  /** Make every blob written so far durable; flushes run one after another. */
  flush(): Promise<BlobInfo[]> {
    const next = this.flushing.then(() => this.flushNow());
    this.flushing = next.catch(() => undefined);
    return next;
  }

  private async flushNow(): Promise<BlobInfo[]> {
    const blobs = this.written;
    this.written = [];
    this.unflushedBytes = 0;
    if (blobs.length === 0) return [];
    try {
      await this.store.io.commit(blobs);
    } catch (e) {
      await this.drop(blobs);
      throw e;
    }
    return blobs.map(({ sha256, size }) => ({ sha256, size }));
  }

  /** Remove the blobs written and not flushed, and release them. */
  async discard(): Promise<void> {
    const blobs = this.written;
    this.written = [];
    this.unflushedBytes = 0;
    await this.drop(blobs);
  }

  private async drop(blobs: TmpBlob[]): Promise<void> {
    for (const b of blobs) {
      await fsp.rm(b.tmp, { force: true });
      this.store.release(b.sha256);
    }
  }
}
