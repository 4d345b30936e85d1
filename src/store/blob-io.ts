import { Worker } from 'node:worker_threads';
import { GatehouseError } from '../shared/errors.js';
import type { BlobInfo } from './blobs.js';

export type BlobIoRequest =
  | { op: 'write'; id: number; bytes: Uint8Array; expectedSha256?: string }
  | { op: 'write-slot'; id: number; slot: number; length: number; expectedSha256?: string }
  | { op: 'commit'; id: number; blobs: { tmp: string; sha256: string }[] }
  | { op: 'sizes'; id: number; shas: string[] }
  | { op: 'read'; id: number; blobs: { sha256: string; size: number }[]; headroom: number };

export type BlobIoReply =
  | { id: number; sha256: string; size: number; tmp: string }
  | { id: number; mismatch: string }
  | { id: number; sizes: (number | null)[] }
  | { id: number; buffers: Uint8Array[] }
  | { id: number; error: { message: string; code?: string } }
  | { id: number };

/**
 * Blobs up to this size are handed to the blob thread in a slot of memory both threads share:
 * the bytes are copied into memory touched before instead of into a fresh buffer per blob, whose
 * every page the kernel must first supply (on a virtual machine that cost more than hashing).
 */
export const SLOT_BYTES = 1024 * 1024;
const SLOTS = 32;

interface Waiting {
  resolve: (r: BlobIoReply) => void;
  reject: (e: Error) => void;
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
  /** The shared slots (made on first use, kept for every blob thread), those free, and waiters. */
  private slots: SharedArrayBuffer | undefined;
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private readonly slotWaiters: ((slot: number) => void)[] = [];

  constructor(private readonly root: string) {}

  /**
   * Hash, check and write `bytes` to tmp/ (not yet durable: see `commit`). The bytes are handed
   * over: the caller must not use them afterwards (their memory moves to the blob thread).
   */
  async write(bytes: Uint8Array, expectedSha256?: string): Promise<BlobInfo & { tmp: string }> {
    const owned =
      bytes.byteOffset === 0 &&
      bytes.byteLength === bytes.buffer.byteLength &&
      bytes.buffer instanceof ArrayBuffer;
    const mine = owned ? bytes : new Uint8Array(bytes);
    const r = await this.call(
      { op: 'write', id: 0, bytes: mine, expectedSha256 },
      mine.byteLength > 0 ? [mine.buffer as ArrayBuffer] : [],
    );
    return this.written(r, expectedSha256);
  }

  /**
   * As `write`, for a blob given in parts (views of the chunks it arrived in, left unchanged):
   * copied once, into a shared slot (free again once the blob is written), or when larger than
   * a slot into a buffer of its own that moves to the blob thread.
   */
  async writeParts(
    parts: Uint8Array[],
    expectedSha256?: string,
  ): Promise<BlobInfo & { tmp: string }> {
    let length = 0;
    for (const p of parts) length += p.byteLength;
    if (length > SLOT_BYTES) return this.write(Buffer.concat(parts, length), expectedSha256);
    const shared = this.shared;
    if (this.freeSlots.length === 0 && this.nextSlot < SLOTS) this.freeSlots.push(this.nextSlot++);
    const slot =
      this.freeSlots.pop() ?? (await new Promise<number>((r) => this.slotWaiters.push(r)));
    try {
      const view = new Uint8Array(shared, slot * SLOT_BYTES, length);
      let at = 0;
      for (const p of parts) {
        view.set(p, at);
        at += p.byteLength;
      }
      return this.written(
        await this.call({ op: 'write-slot', id: 0, slot, length, expectedSha256 }),
        expectedSha256,
      );
    } finally {
      const next = this.slotWaiters.shift();
      if (next) next(slot);
      else this.freeSlots.push(slot);
    }
  }

  /** The blob thread's answer to a write: the blob, or the digest that did not match. */
  private written(r: BlobIoReply, expectedSha256: string | undefined) {
    if ('mismatch' in r)
      throw new GatehouseError(
        'BLOB_DIGEST_MISMATCH',
        400,
        `The content's sha256 is ${r.mismatch}, not the expected ${expectedSha256}; it was altered or truncated in transit.`,
      );
    return r as BlobInfo & { tmp: string };
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

  private get shared(): SharedArrayBuffer {
    return (this.slots ??= new SharedArrayBuffer(SLOT_BYTES * SLOTS));
  }

  private call(m: BlobIoRequest, transfer: ArrayBuffer[] = []): Promise<BlobIoReply> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<BlobIoReply>((resolve, reject) => {
      // Keeps the process alive only while answers are awaited.
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ ...m, id }, transfer);
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
      workerData: { root: this.root, slots: this.shared },
    });
    worker.on('message', (r: BlobIoReply) => {
      const w = this.waiting.get(r.id);
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
