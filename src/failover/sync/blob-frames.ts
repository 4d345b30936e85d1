import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { notFound } from '../../shared/errors.js';
import { FRAME_HEADER as HEADER, writeFrameHeader } from '../../store/blob-stream.js';
import type { BlobStore } from '../../store/blobs.js';

/**
 * Many blobs in one answer (`GET /api/peer/sync/blobs?sha256=a,b,…`): per blob, in the order
 * asked, a frame (see store/blob-stream.ts), with a Content-Length of them all. One signed
 * request moves up to `BULK_BLOBS` blobs, where a request per blob cost a round trip and a
 * signature each. A GET, because peer streams are GETs; the digests fit in its URL. The backup
 * receives them on its blob thread (`BlobBatch.fetch`).
 */
export const BULK_BLOBS = 100;
/** Blobs up to this size are read whole; larger ones are streamed. */
const GATHER_UP_TO = 4 * 1024 * 1024;

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

/**
 * The frames of the asked blobs and their length in bytes; every one must be here (checked
 * before the first byte). The source does not hash them: the puller checks every blob against
 * its digest. Small blobs are read whole on the store's blob thread, header and bytes in one
 * buffer (one chunk on the wire).
 */
export async function blobFrames(
  blobs: BlobStore,
  shas: string[],
): Promise<{ frames: Readable; length: number }> {
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
            yield writeFrameHeader(frame, shas[g.from + k]!, sizes[g.from + k]!);
          continue;
        }
        const sha = shas[g.from]!;
        yield writeFrameHeader(Buffer.allocUnsafe(HEADER), sha, sizes[g.from]!);
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
  return {
    frames: Readable.from(frames(), { objectMode: false, highWaterMark: 4 * 1024 * 1024 }),
    length: sizes.reduce((n: number, size) => n + HEADER + size!, 0),
  };
}
