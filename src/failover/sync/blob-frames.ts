import { createReadStream, promises as fsp } from 'node:fs';
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
/** Small blobs of one answer handed to the writer and not yet written. */
const WRITES_IN_FLIGHT = 32;

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

/** Blobs of one answer read ahead of the one being sent (small ones are read whole). */
const READS_AHEAD = 8;
/** Chunk size for reading the blobs too large to read whole. */
const READ_CHUNK = 1024 * 1024;

async function inParallel<T>(
  items: T[],
  limit: number,
  run: (item: T, i: number) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await run(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A frame's 40-byte header followed by `size` bytes of room for its body. */
function frameOf(sha: string, size: number, body: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER + body);
  frame.write(sha, 0, 'hex');
  frame.writeBigUInt64BE(BigInt(size), 32);
  return frame;
}

/** A small blob's whole frame, header and bytes in one buffer (one chunk on the wire). */
async function readFrame(blobs: BlobStore, sha: string, size: number): Promise<Buffer> {
  const frame = frameOf(sha, size, size);
  const fh = await fsp.open(blobs.pathOf(sha), 'r');
  try {
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(frame, HEADER + at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    // Blobs are immutable: a different size means it was removed and the answer is void.
    if (at !== size) throw new Error(`blob ${sha} changed size while being sent`);
  } finally {
    await fh.close();
  }
  return frame;
}

/**
 * The frames of the asked blobs; every one must be here (checked before the first byte). The
 * source does not hash them: the puller checks every blob against its digest.
 */
export async function blobFrames(blobs: BlobStore, shas: string[]): Promise<Readable> {
  const sizes: number[] = new Array<number>(shas.length);
  await inParallel(shas, 16, async (sha, i) => {
    try {
      sizes[i] = (await fsp.stat(blobs.pathOf(sha))).size;
    } catch {
      throw notFound(`Blob ${sha}`, 'Sync again: the peer no longer needs it.');
    }
  });
  async function* frames() {
    // Small blobs are read a few ahead, so the thread pool works while the socket drains.
    const ahead: (Promise<Buffer> | undefined)[] = [];
    const start = (i: number) => {
      if (i >= shas.length || sizes[i]! > GATHER_UP_TO) return undefined;
      const p = readFrame(blobs, shas[i]!, sizes[i]!);
      p.catch(() => undefined);
      return p;
    };
    for (let i = 0; i < Math.min(READS_AHEAD, shas.length); i++) ahead.push(start(i));
    try {
      for (const [i, sha] of shas.entries()) {
        const pending = ahead.shift();
        ahead.push(start(i + READS_AHEAD));
        if (pending) {
          yield await pending;
          continue;
        }
        yield frameOf(sha, sizes[i]!, 0);
        let sent = 0;
        for await (const chunk of createReadStream(blobs.pathOf(sha), {
          highWaterMark: READ_CHUNK,
        }) as AsyncIterable<Buffer>) {
          sent += chunk.length;
          yield chunk;
        }
        if (sent !== sizes[i]) throw new Error(`blob ${sha} changed size while being sent`);
      }
    } finally {
      await Promise.allSettled(ahead.filter((p) => p !== undefined));
    }
  }
  return Readable.from(frames(), { objectMode: false, highWaterMark: 4 * 1024 * 1024 });
}

const truncated = (peer: string) =>
  new GatehouseError(
    'SYNC_BLOB_STREAM',
    502,
    `The blobs from ${peer} arrived truncated or out of order. Sync again; if it persists, check the network between the appliances.`,
  );

/**
 * Reads the frames of a bulk answer one blob at a time. Chunks are queued as they arrive and a
 * frame's bytes are copied once (into one buffer for the blob), or not at all when the frame
 * lies within one chunk.
 */
class FrameReader {
  private readonly chunks: Buffer[] = [];
  /** Offset of the first unread byte in `chunks[0]`. */
  private head = 0;
  private buffered = 0;
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
    if (r.value.length) {
      this.chunks.push(r.value);
      this.buffered += r.value.length;
    }
    return true;
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n) if (!(await this.more())) return false;
    return true;
  }

  /** The next `n` bytes (at most `buffered`). */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length - this.head >= n) {
      out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
    } else {
      out = Buffer.allocUnsafeSlow(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const k = Math.min(n - at, c.length - this.head);
        c.copy(out, at, this.head, this.head + k);
        at += k;
        this.head += k;
        if (this.head === c.length) {
          this.chunks.shift();
          this.head = 0;
        }
      }
    }
    this.buffered -= n;
    return out;
  }

  /** The next frame's digest and size, or undefined at the end of the answer. */
  async header(): Promise<{ sha256: string; size: number } | undefined> {
    if (!(await this.fill(HEADER))) {
      if (this.buffered === 0) return undefined;
      throw truncated(this.peer);
    }
    const h = this.take(HEADER);
    return { sha256: h.toString('hex', 0, 32), size: Number(h.readBigUInt64BE(32)) };
  }

  /** The current frame's bytes, as they arrive. */
  async *body(size: number): AsyncGenerator<Buffer> {
    let left = size;
    while (left > 0) {
      if (this.buffered === 0 && !(await this.more())) throw truncated(this.peer);
      if (this.buffered === 0) continue;
      const part = this.take(Math.min(left, this.chunks[0]!.length - this.head));
      left -= part.length;
      yield part;
    }
  }

  /** The current frame's bytes in one buffer of its own (it can move to another thread). */
  async gather(size: number): Promise<Buffer> {
    if (!(await this.fill(size))) throw truncated(this.peer);
    const first = this.chunks[0];
    if (size === 0) return Buffer.alloc(0);
    if (first && first.length - this.head >= size) {
      // Within one chunk: a copy, since the chunk's memory is shared with the frames around it.
      const out = Buffer.allocUnsafeSlow(size);
      this.take(size).copy(out);
      return out;
    }
    return this.take(size);
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/**
 * Write the blobs of one bulk answer through `batch`, each checked against its digest, in the
 * order they were asked; `afterEach` runs after each blob is written (to flush now and then).
 * Small blobs go to the store's writer thread (hashed and written there) while the next frames
 * are read; waiting for each write left both appliances idle.
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
