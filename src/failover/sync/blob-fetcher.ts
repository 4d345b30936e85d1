import type { BlobStore } from '../../store/blobs.js';
import { BlobFetchError } from '../../store/blob-io.js';
import type { PeerClient } from '../peer-client.js';
import type { BlobFeed } from './blob-feed.js';
import { bulkBlobsPath } from './blob-frames.js';
import type { SyncProgress } from './pull-state.js';

/** Bulk blob requests in flight at once (see blob-frames.ts): one streams while another waits. */
const BULK_REQUESTS = 3;
/** Written blobs are made durable together once this many bytes or blobs are waiting. */
const FLUSH_BYTES = 64 * 1024 * 1024;
const FLUSH_BLOBS = 2000;
/** From this many wanted blobs, list the blob directory once instead of checking each. */
const LIST_BLOBS_FROM = 256;

/** The blobs a pull needs, fetched in bulk while rows still arrive, made durable a flush at a time. */
export class BlobFetcher {
  constructor(
    private readonly blobs: BlobStore,
    private readonly progress: SyncProgress,
  ) {}

  /**
   * Store every blob the feed names that is not here yet, while the feed still fills; returns
   * the ones held once the feed ended. `expectedRows` (rows naming blobs) tells whether to list
   * the blob directory once (many) or ask about each blob.
   */
  async fetchBlobs(peer: PeerClient, feed: BlobFeed, expectedRows: number): Promise<string[]> {
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
}
