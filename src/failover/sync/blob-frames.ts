import { Readable } from 'node:stream';
import { z } from 'zod';
import { GatehouseError, notFound } from '../../shared/errors.js';
import type { BlobBatch, BlobStore } from '../../store/blobs.js';

/**
 * Many blobs in one answer (`GET /api/peer/sync/blobs?sha256=a,b,…`): per blob, in the order
 * asked, a frame of its 32-byte sha256, its size as a big-endian uint64 and its bytes. One
 * signed request moves up to `BULK_BLOBS` blobs, where a request per blob cost a round trip
 * and a signature each. A GET, because peer streams are GETs; the digests fit in its URL.
 */
export const BULK_BLOBS = 100;
const HEADER = 40;
/** Blobs up to this size are gathered and written at once; larger ones are streamed. */
const GATHER_UP_TO = 4 * 1024 * 1024;
/** Small blobs of one answer being written at once. */
const WRITES_IN_FLIGHT = 8;

export const bulkBlobsPath = (shas: string[]) => `/api/peer/sync/blobs?sha256=${shas.join(',')}`;

export const BulkBlobsQuery = z.object({
  sha256: z
    .string()
    .transform((s) => s.split(','))
    .pipe(
      z
        .array(z.string().regex(/^[0-9a-f]{64}$/, 'must be sha256 digests in lowercase hex'))
        .min(1)
        .max(BULK_BLOBS, `must list at most ${BULK_BLOBS} digests per request`),
    ),
});

/** The frames of the asked blobs; every one must be here (checked before the first byte). */
export async function blobFrames(blobs: BlobStore, shas: string[]): Promise<Readable> {
  const sizes: number[] = [];
  for (const sha of shas) {
    if (!(await blobs.has(sha)))
      throw notFound(`Blob ${sha}`, 'Sync again: the peer no longer needs it.');
    sizes.push(await blobs.size(sha));
  }
  async function* frames() {
    for (const [i, sha] of shas.entries()) {
      const header = Buffer.alloc(HEADER);
      header.write(sha, 0, 'hex');
      header.writeBigUInt64BE(BigInt(sizes[i]!), 32);
      yield header;
      let sent = 0;
      for await (const chunk of blobs.read(sha) as AsyncIterable<Buffer>) {
        sent += chunk.length;
        yield chunk;
      }
      // Blobs are immutable: a different size means it was removed and the answer is void.
      if (sent !== sizes[i]) throw new Error(`blob ${sha} changed size while being sent`);
    }
  }
  return Readable.from(frames(), { objectMode: false });
}

const truncated = (peer: string) =>
  new GatehouseError(
    'SYNC_BLOB_STREAM',
    502,
    `The blobs from ${peer} arrived truncated or out of order. Sync again; if it persists, check the network between the appliances.`,
  );

/** Reads the frames of a bulk answer one blob at a time. */
class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;

  constructor(
    stream: Readable,
    private readonly peer: string,
  ) {
    this.it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  private async more(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }

  /** The next frame's digest and size, or undefined at the end of the answer. */
  async header(): Promise<{ sha256: string; size: number } | undefined> {
    while (this.buf.length < HEADER)
      if (!(await this.more())) {
        if (this.buf.length === 0) return undefined;
        throw truncated(this.peer);
      }
    const sha256 = this.buf.subarray(0, 32).toString('hex');
    const size = Number(this.buf.readBigUInt64BE(32));
    this.buf = this.buf.subarray(HEADER);
    return { sha256, size };
  }

  /** The current frame's bytes, as they arrive. */
  async *body(size: number): AsyncGenerator<Buffer> {
    let left = size;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.more())) throw truncated(this.peer);
      const take = Math.min(left, this.buf.length);
      yield this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
    }
  }

  async gather(size: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this.body(size)) parts.push(part);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/**
 * Write the blobs of one bulk answer through `batch`, each checked against its digest, in the
 * order they were asked; `afterEach` runs after each blob is written (to flush now and then).
 * Small blobs are written a few at a time while the next frames are read: writing one small
 * file costs several thread-pool round trips, and waiting for each left both appliances idle.
 */
export async function receiveBlobs(
  stream: Readable,
  shas: string[],
  batch: BlobBatch,
  peer: string,
  afterEach: () => Promise<void>,
): Promise<void> {
  const reader = new FrameReader(stream, peer);
  const writing: Promise<void>[] = [];
  try {
    for (const sha of shas) {
      const frame = await reader.header();
      if (frame?.sha256 !== sha) throw truncated(peer);
      if (frame.size <= GATHER_UP_TO) {
        const bytes = await reader.gather(frame.size);
        const written = batch.put(bytes, { expectedSha256: sha }).then(afterEach);
        // Handled here so a failure is not "unhandled" before it is awaited below.
        written.catch(() => undefined);
        writing.push(written);
        if (writing.length >= WRITES_IN_FLIGHT) await writing.shift();
      } else {
        await batch.put(Readable.from(reader.body(frame.size)), { expectedSha256: sha });
        await afterEach();
      }
    }
    if (await reader.header()) throw truncated(peer);
    while (writing.length) await writing.shift();
  } finally {
    // On failure, let the writes under way end before the caller discards the batch.
    await Promise.allSettled(writing);
    await reader.close();
  }
}
