import { Worker } from 'node:worker_threads';

import type { BlobFetch, FetchFailure } from './blob-fetch.js';
import type { TmpBlob } from './blob-types.js';
import { FRAME_HEADER } from './blob-stream.js';
import { storeErrors } from './error-codes.js';

export type BlobIoRequest =
  | { op: 'fetch'; id: number; fetch: BlobFetch; shas: string[] }
  | { op: 'commit'; id: number; blobs: { tmp: string; sha256: string }[] }
  | { op: 'sizes'; id: number; shas: string[] }
  | { op: 'read'; id: number; blobs: { sha256: string; size: number }[]; slot: number | null };

export type BlobIoReply =
  | { id: number; blobs: TmpBlob[]; more?: true }
  | { id: number; failure: FetchFailure }
  | { id: number; sizes: (number | null)[] }
  | { id: number; length: number }
  | { id: number; frames: Uint8Array }
  | { id: number; error: { message: string; code?: string } }
  | { id: number };

interface Waiting {
  resolve: (r: BlobIoReply) => void;
  reject: (e: Error) => void;
  /** Blobs a fetch wrote, told before its answer. */
  written?: (blobs: TmpBlob[]) => void;
}

/**
 * Frames of blobs read to be sent are read into slots of memory shared with the blob thread and
 * used again once sent, where a buffer of its own per read cost the sender fresh memory (zeroed
 * by the kernel, then by V8) and garbage collections for every byte sent. When every slot is
 * taken (slow readers), a read gets a buffer of its own. A slot holds this many bytes of frames.
 */
export const FRAMES_SLOT_BYTES = 4 * 1024 * 1024 + 32 * FRAME_HEADER;
const FRAMES_SLOTS = 8;

/**
 * Fetches go to this many blob threads in turn: receiving, hashing and writing a sync's blobs
 * keeps one thread busy, and takes what the kernel charges for new page-cache memory.
 */
const FETCH_THREADS = 2;

/** Frames read for sending, and how to give back the memory they are in once sent. */
export interface ReadFrames {
  frames: Buffer;
  /** The frames are no longer needed (called once; later calls do nothing). */
  release: () => void;
}

/** A fetch of blobs failed; `failure` says why, for the caller to word. */
export class BlobFetchError extends Error {
  constructor(readonly failure: Exclude<FetchFailure, { kind: 'mismatch' }>) {
    super(`fetching blobs failed: ${failure.kind}`);
  }
}

/**
 * Reads and writes whole blobs on threads of their own (blob-io-worker.ts), with plain
 * synchronous calls there and one message each way per call, where the event loop's file API
 * costs a thread-pool round trip (and a promise) per open, read, write and close. The first
 * thread reads, commits and answers sizes; fetches take turns between `FETCH_THREADS`.
 */
export class BlobIo {
  /** The blob threads, started on first use. */
  private readonly threads: (BlobThread | undefined)[] = [];
  /** Which fetch thread takes the next fetch. */
  private nextFetch = 0;
  /** The slots of memory for frames (kept for every blob thread), and those free. */
  private readonly slots = new SharedArrayBuffer(FRAMES_SLOT_BYTES * FRAMES_SLOTS);
  private readonly freeSlots = Array.from({ length: FRAMES_SLOTS }, (_, i) => i);

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
    written: (blobs: TmpBlob[]) => void,
  ): Promise<void> {
    const thread = this.nextFetch++ % FETCH_THREADS;
    const r = await this.call({ op: 'fetch', id: 0, fetch, shas }, written, thread);
    if ('blobs' in r) written(r.blobs);
    if (!('failure' in r)) return;
    if (r.failure.kind === 'mismatch')
      throw storeErrors.BLOB_DIGEST_MISMATCH(
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
   * The frames (see blob-stream.ts) of `blobs`, read whole in one piece of memory: a shared slot
   * when one is free and they fit (release it once they are sent), else a buffer of their own. A
   * blob whose size is not the one given (it was removed meanwhile) fails the call.
   */
  async readFrames(blobs: { sha256: string; size: number }[]): Promise<ReadFrames> {
    const length = blobs.reduce((n, b) => n + FRAME_HEADER + b.size, 0);
    const slot = length <= FRAMES_SLOT_BYTES ? this.freeSlots.pop() : undefined;
    if (slot === undefined) {
      const r = await this.call({ op: 'read', id: 0, blobs, slot: null });
      const f = (r as { frames: Uint8Array }).frames;
      return {
        frames: Buffer.from(f.buffer, f.byteOffset, f.byteLength),
        release: () => undefined,
      };
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.freeSlots.push(slot);
    };
    try {
      await this.call({ op: 'read', id: 0, blobs, slot });
    } catch (e) {
      release();
      throw e;
    }
    return { frames: Buffer.from(this.slots, slot * FRAMES_SLOT_BYTES, length), release };
  }

  /** On the first thread (reads, sizes, commits) or a given one (fetches). */
  private call(
    m: BlobIoRequest,
    written?: (blobs: TmpBlob[]) => void,
    thread = 0,
  ): Promise<BlobIoReply> {
    this.threads[thread] ??= new BlobThread(this.root, this.slots);
    return this.threads[thread].call(m, written).then((r) => {
      if ('error' in r) {
        const e = new Error(r.error.message) as NodeJS.ErrnoException;
        if (r.error.code) e.code = r.error.code;
        throw e;
      }
      return r;
    });
  }

  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((t) => t?.close()));
  }
}

/**
 * One blob thread and the answers awaited from it. It starts on first use, starts again after
 * it died (failing what it had not answered), and keeps the process alive only while answers
 * are awaited.
 */
class BlobThread {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;

  constructor(
    private readonly root: string,
    private readonly slots: SharedArrayBuffer,
  ) {}

  call(m: BlobIoRequest, written?: (blobs: TmpBlob[]) => void): Promise<BlobIoReply> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<BlobIoReply>((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject, written });
      worker.postMessage({ ...m, id });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./blob-io-worker.js', import.meta.url), {
      workerData: { root: this.root, slots: this.slots },
    });
    const waiting = this.waiting;
    worker.on('message', (r: BlobIoReply) => {
      const w = waiting.get(r.id);
      if ('more' in r) return w?.written?.(r.blobs);
      waiting.delete(r.id);
      if (waiting.size === 0) worker.unref();
      w?.resolve(r);
    });
    const fail = (e: Error) => {
      // Only this worker's own answers: a thread started since has its own.
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the blob thread exited (code ${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** Stop the thread; what it had not answered fails. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    const stopped = new Error('the blob store was closed');
    for (const w of this.waiting.values()) w.reject(stopped);
    this.waiting.clear();
    await worker?.terminate();
  }
}
