import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { GatehouseError } from '../shared/errors.js';
import { fsyncDir } from '../shared/fs.js';

export interface BlobInfo {
  sha256: string;
  size: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Content-addressed store for file-store files and recordings: each blob lives at
 * `sha256/ab/abcdef…`, is written to a temporary file, fsynced and renamed into place, so a
 * blob that exists is always whole. Rows in the database refer to blobs by digest.
 */
export class BlobStore {
  private readonly pending = new Map<string, number>();

  constructor(readonly root: string) {}

  async init(): Promise<void> {
    await fsp.mkdir(path.join(this.root, 'sha256'), { recursive: true });
    await fsp.mkdir(path.join(this.root, 'tmp'), { recursive: true });
    // Anything left in tmp/ was never acknowledged: a crash happened mid-write.
    for (const f of await fsp.readdir(path.join(this.root, 'tmp'))) {
      await fsp.rm(path.join(this.root, 'tmp', f), { force: true });
    }
  }

  pathOf(sha256: string): string {
    if (!SHA256.test(sha256))
      throw new GatehouseError('BLOB_BAD_DIGEST', 400, `Not a sha256 digest: ${sha256}`);
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
   * Stream `source` into the store. With `limit`, a source longer than that is refused; with
   * `expectedSha256`, a source whose digest differs is refused. The blob is durable on return.
   * While the caller links the blob to a row, pass the result to `release()` afterwards so a
   * concurrent garbage collection does not remove it in between.
   */
  async put(
    source: Readable | Uint8Array,
    opts: { limit?: number; expectedSha256?: string } = {},
  ): Promise<BlobInfo> {
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
          throw new GatehouseError(
            'BLOB_TOO_LARGE',
            413,
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
      throw new GatehouseError(
        'BLOB_DIGEST_MISMATCH',
        400,
        `The content's sha256 is ${sha256}, not the expected ${opts.expectedSha256}; it was altered or truncated in transit.`,
      );
    }
    this.pending.set(sha256, (this.pending.get(sha256) ?? 0) + 1);
    const dest = this.pathOf(sha256);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.rename(tmp, dest);
    await fsyncDir(path.dirname(dest));
    return { sha256, size };
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
