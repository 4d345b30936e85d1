import type { FastifyReply } from 'fastify';
import { createReadStream } from 'node:fs';
import { z } from 'zod';
import { notFound } from '../../shared/errors.js';
import { FRAME_HEADER as HEADER, writeFrameHeader } from '../../store/blob-stream.js';
import type { BlobStore } from '../../store/blobs.js';
import { FRAMES_SLOT_BYTES } from '../../store/blob-io.js';

/**
 * Many blobs in one answer (`GET /api/peer/sync/blobs?sha256=a,b,…`): per blob, in the order
 * asked, a frame (see store/blob-stream.ts), with a Content-Length of them all. One signed
 * request moves up to `BULK_BLOBS` blobs, where a request per blob cost a round trip and a
 * signature each. A GET, because peer streams are GETs; the digests fit in its URL. The backup
 * receives them on its blob thread (`BlobBatch.fetch`).
 */
export const BULK_BLOBS = 100;

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

/** Runs of small blobs are read whole, up to a slot of frames (4 MiB) at a time, two runs ahead. */
const READ_GROUP_BLOBS = 32;
/** Chunk size for reading the blobs too large to read whole. */
const READ_CHUNK = 1024 * 1024;

/**
 * Answer with the frames of the asked blobs, under a Content-Length; every one must be here
 * (checked before the first byte, else NOT_FOUND). The source does not hash them: the puller
 * checks every blob against its digest. Runs of small blobs are read whole on the store's blob
 * thread into memory used again once the response has written it (the write's callback says
 * so, which a stream handed to the framework would not); larger blobs are streamed. A failure
 * after the head cuts the connection.
 */
export async function sendBlobFrames(
  blobs: BlobStore,
  shas: string[],
  reply: FastifyReply,
): Promise<void> {
  const sizes = (await blobs.io.sizes(shas)).map((size, i) => {
    if (size === null)
      throw notFound(`Blob ${shas[i]}`, 'Sync again: the peer no longer needs it.');
    return size;
  });
  // Runs of small blobs, read as one group each; a large blob is a group of its own, streamed.
  const groups: { from: number; to: number; small: boolean }[] = [];
  for (let i = 0; i < shas.length;) {
    if (HEADER + sizes[i]! > FRAMES_SLOT_BYTES) {
      groups.push({ from: i, to: i + 1, small: false });
      i++;
      continue;
    }
    let to = i;
    let bytes = 0;
    while (
      to < shas.length &&
      to - i < READ_GROUP_BLOBS &&
      bytes + HEADER + sizes[to]! <= FRAMES_SLOT_BYTES
    )
      bytes += HEADER + sizes[to++]!;
    groups.push({ from: i, to, small: true });
    i = to;
  }
  const read = (g: { from: number; to: number; small: boolean } | undefined) => {
    if (!g?.small) return undefined;
    const p = blobs.io.readFrames(
      shas.slice(g.from, g.to).map((sha256, k) => ({ sha256, size: sizes[g.from + k]! })),
    );
    p.catch(() => undefined);
    return p;
  };

  const res = reply.hijack().raw;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': sizes.reduce((n, size) => n + HEADER + size, 0),
  });
  // The head goes alone: written with the first frames, both would be copied into one buffer.
  res.flushHeaders();
  /**
   * Write `chunk`, resolving once it is written (rejecting if the connection closed first). One
   * write at a time: writes queued together are copied into one buffer to be encrypted.
   */
  const write = (chunk: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const closed = () => reject(new Error('the peer closed the connection'));
      if (res.destroyed) return closed();
      res.once('close', closed);
      res.write(chunk, (e) => {
        res.off('close', closed);
        if (e) reject(e);
        else resolve();
      });
    });
  // Two groups are read ahead, so the blob thread works while the socket drains.
  const ahead = [read(groups[0]), read(groups[1])];
  try {
    for (const [n, g] of groups.entries()) {
      const pending = ahead.shift();
      ahead.push(read(groups[n + 2]));
      if (pending) {
        const { frames, release } = await pending;
        try {
          await write(frames);
        } finally {
          release();
        }
        continue;
      }
      const sha = shas[g.from]!;
      await write(writeFrameHeader(Buffer.allocUnsafe(HEADER), sha, sizes[g.from]!));
      let sent = 0;
      for await (const chunk of createReadStream(blobs.pathOf(sha), {
        highWaterMark: READ_CHUNK,
      }) as AsyncIterable<Buffer>) {
        sent += chunk.length;
        await write(chunk);
      }
      if (sent !== sizes[g.from]) throw new Error(`blob ${sha} changed size while being sent`);
    }
    res.end();
  } catch (e) {
    // The connection is cut: the puller sees a truncated answer.
    reply.log.warn(`A bulk answer of blobs to the peer was cut: ${(e as Error).message}`);
    res.destroy(e as Error);
  } finally {
    // Groups read ahead and never written.
    for (const p of ahead)
      p?.then(
        ({ release }) => release(),
        () => undefined,
      );
  }
}
