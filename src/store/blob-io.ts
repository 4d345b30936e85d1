import { Worker } from 'node:worker_threads';
import { GatehouseError } from '../shared/errors.js';
import type { BlobFetch, FetchFailure } from './blob-fetch.js';
import type { BlobInfo } from './blobs.js';

export type BlobIoRequest =
  | { op: 'fetch'; id: number; fetch: BlobFetch; shas: string[] }
  | { op: 'commit'; id: number; blobs: { tmp: string; sha256: string }[] }
  | { op: 'sizes'; id: number; shas: string[] }
  | { op: 'read'; id: number; blobs: { sha256: string; size: number }[]; headroom: number };

export type BlobIoReply =
  | { id: number; blobs: (BlobInfo & { tmp: string })[]; more?: true }
  | { id: number; failure: FetchFailure }
  | { id: number; sizes: (number | null)[] }
  | { id: number; buffers: Uint8Array[] }
  | { id: number; error: { message: string; code?: string } }
  | { id: number };

interface Waiting {
  resolve: (r: BlobIoReply) => void;
  reject: (e: Error) => void;
  /** Blobs a fetch wrote, told before its answer. */
  written?: (blobs: (BlobInfo & { tmp: string })[]) => void;
}

/** A fetch of blobs failed; `failure` says why, for the caller to word. */
export class BlobFetchError extends Error {
  constructor(readonly failure: Exclude<FetchFailure, { kind: 'mismatch' }>) {
    super(`fetching blobs failed: ${failure.kind}`);
  }
}

/**
 * Reads and writes whole blobs on a thread of its own (blob-io-worker.ts), with plain
 * synchronous calls there and one message each way per call, where the event loop's file API
 * costs a thread-pool round trip (and a promise) per open, read, write and close. The thread of
 * a blob store starts on first use and keeps the process alive only while it is awaited.
 */
export class BlobIo {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  constructor(private readonly root: string) {}

  /**
   * Fetch the blobs `shas` of a peer's bulk answer on the blob thread (see blob-fetch.ts): each
   * is checked against its digest and written to tmp/ (not yet durable: see `commit`), and told
   * to `written` a few at a time as the answer arrives. A blob that does not match fails the
   * fetch with BLOB_DIGEST_MISMATCH, anything else with a BlobFetchError; a failed fetch leaves
   * in tmp/ only the blobs already told.
   */
  async fetch(
    fetch: BlobFetch,
    shas: string[],
    written: (blobs: (BlobInfo & { tmp: string })[]) => void,
  ): Promise<void> {
    const r = await this.call({ op: 'fetch', id: 0, fetch, shas }, written);
    if ('blobs' in r) written(r.blobs);
    if (!('failure' in r)) return;
    if (r.failure.kind === 'mismatch')
      throw new GatehouseError(
        'BLOB_DIGEST_MISMATCH',
        400,
        `The content's sha256 is ${r.failure.actual}, not the expected ${r.failure.expected}; it was altered or truncated in transit.`,
      );
    throw new BlobFetchError(r.failure);
  }

  /** Make blobs written to tmp/ durable, move them into place and make that durable. */
  async commit(blobs: { tmp: string; sha256: string }[]): Promise<void> {
    await this.call({ op: 'commit', id: 0, blobs });
  }

  /** The size of each blob, or null where there is none. */
  async sizes(shas: string[]): Promise<(number | null)[]> {
    return ((await this.call({ op: 'sizes', id: 0, shas })) as { sizes: (number | null)[] }).sizes;
  }

  /**
   * Each blob read whole into a buffer of its own, after `headroom` bytes left for the caller;
   * a blob whose size is not the one given (it was removed meanwhile) fails the call.
   */
  async read(blobs: { sha256: string; size: number }[], headroom: number): Promise<Buffer[]> {
    const r = (await this.call({ op: 'read', id: 0, blobs, headroom })) as {
      buffers: Uint8Array[];
    };
    return r.buffers.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }

  private call(
    m: BlobIoRequest,
    written?: (blobs: (BlobInfo & { tmp: string })[]) => void,
  ): Promise<BlobIoReply> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<BlobIoReply>((resolve, reject) => {
      // Keeps the process alive only while answers are awaited.
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject, written });
      worker.postMessage({ ...m, id });
    }).then((r) => {
      if ('error' in r) {
        const e = new Error(r.error.message) as NodeJS.ErrnoException;
        if (r.error.code) e.code = r.error.code;
        throw e;
      }
      return r;
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./blob-io-worker.js', import.meta.url), {
      workerData: { root: this.root },
    });
    worker.on('message', (r: BlobIoReply) => {
      const w = this.waiting.get(r.id);
      if ('more' in r) return w?.written?.(r.blobs);
      this.waiting.delete(r.id);
      if (this.waiting.size === 0) worker.unref();
      w?.resolve(r);
    });
    const fail = (e: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the blob thread exited (code ${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
