import { createReadStream } from 'node:fs';
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

/** Small blobs are read whole, a group of up to this many bytes at a time, two groups ahead. */
const READ_GROUP_BYTES = 4 * 1024 * 1024;
const READ_GROUP_BLOBS = 32;
/** Chunk size for reading the blobs too large to read whole. */
const READ_CHUNK = 1024 * 1024;

/** A frame's 40-byte header, written into the first bytes of `frame`. */
function writeHeader(frame: Buffer, sha: string, size: number): Buffer {
  frame.write(sha, 0, 'hex');
  frame.writeBigUInt64BE(BigInt(size), 32);
  return frame;
}

/**
 * The frames of the asked blobs; every one must be here (checked before the first byte). The
 * source does not hash them: the puller checks every blob against its digest. Small blobs are
 * read whole on the store's blob thread, header and bytes in one buffer (one chunk on the wire).
 */
export async function blobFrames(blobs: BlobStore, shas: string[]): Promise<Readable> {
  const sizes = await blobs.io.sizes(shas);
  const gone = sizes.findIndex((s) => s === null);
  if (gone >= 0) throw notFound(`Blob ${shas[gone]}`, 'Sync again: the peer no longer needs it.');
  // Runs of small blobs, read as one group each; a large blob is a group of its own, streamed.
  const groups: { from: number; to: number; small: boolean }[] = [];
  for (let i = 0; i < shas.length;) {
    if (sizes[i]! > GATHER_UP_TO) {
      groups.push({ from: i, to: i + 1, small: false });
      i++;
      continue;
    }
    let to = i;
    let bytes = 0;
    while (
      to < shas.length &&
      sizes[to]! <= GATHER_UP_TO &&
      to - i < READ_GROUP_BLOBS &&
      (to === i || bytes + sizes[to]! <= READ_GROUP_BYTES)
    )
      bytes += sizes[to++]!;
    groups.push({ from: i, to, small: true });
    i = to;
  }
  const read = (g: { from: number; to: number; small: boolean } | undefined) => {
    if (!g?.small) return undefined;
    const p = blobs.io.read(
      shas.slice(g.from, g.to).map((sha256, k) => ({ sha256, size: sizes[g.from + k]! })),
      HEADER,
    );
    p.catch(() => undefined);
    return p;
  };
  async function* frames() {
    // Two groups are read ahead, so the blob thread works while the socket drains.
    const ahead = [read(groups[0]), read(groups[1])];
    try {
      for (const [n, g] of groups.entries()) {
        const pending = ahead.shift();
        ahead.push(read(groups[n + 2]));
        if (pending) {
          for (const [k, frame] of (await pending).entries())
            yield writeHeader(frame, shas[g.from + k]!, sizes[g.from + k]!);
          continue;
        }
        const sha = shas[g.from]!;
        yield writeHeader(Buffer.allocUnsafe(HEADER), sha, sizes[g.from]!);
        let sent = 0;
        for await (const chunk of createReadStream(blobs.pathOf(sha), {
          highWaterMark: READ_CHUNK,
        }) as AsyncIterable<Buffer>) {
          sent += chunk.length;
          yield chunk;
        }
        if (sent !== sizes[g.from]) throw new Error(`blob ${sha} changed size while being sent`);
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
 * Reads the frames of a bulk answer one blob at a time. Chunks are queued as they arrive; a
 * frame's bytes are handed on as views of them, and the blob store copies them once.
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

  /** The current frame's bytes as views of the chunks they arrived in (no copy). */
  async parts(size: number): Promise<Buffer[]> {
    if (!(await this.fill(size))) throw truncated(this.peer);
    const out: Buffer[] = [];
    for (let left = size; left > 0; left -= out[out.length - 1]!.length)
      out.push(this.take(Math.min(left, this.chunks[0]!.length - this.head)));
    return out;
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
        const parts = await reader.parts(frame.size);
        const written = batch.put(parts, { expectedSha256: sha }).then(afterEach);
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
