import { createHash } from 'node:crypto';
import { close, constants, fsync, open, read, write, writeFileSync, writev } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { fsyncPath } from '../shared/fs.js';
import { sessionsErrors } from './error-codes.js';
import { SlabPool } from './slab-pool.js';

/**
 * A session recording: both directions of the relayed byte stream, each chunk with the time it
 * passed. Layout: the magic line, one JSON header line, then frames of
 * [direction u8][milliseconds since start u32 BE][length u32 BE][bytes].
 * Frames are appended as the session runs, so a recording cut short by a crash is still
 * readable up to its last whole frame.
 */
export const RECORDING_MAGIC = 'GATEHOUSE-RECORDING-1\n';
export const FRAME_HEADER = 9;

/** Console → remote computer, and remote computer → console. */
export type Direction = 'to-target' | 'from-target';
const DIRECTION_CODE: Record<Direction, number> = { 'to-target': 0, 'from-target': 1 };

export const RecordingHeader = z.object({
  session: z.string(),
  appliance: z.string(),
  representative: z.string(),
  jumpClient: z.string(),
  target: z.string(),
  startedAt: z.number(),
  /**
   * A part of a resumable session (docs/clients.md): the session it belongs to, its number,
   * where its bytes start in each direction, and the moves and pause before it.
   */
  resumeOf: z.string().optional(),
  part: z.number().int().min(1).optional(),
  offsets: z.object({ toTarget: z.number(), fromTarget: z.number() }).optional(),
  moves: z.number().int().min(0).optional(),
  pausedMs: z.number().min(0).optional(),
});
export type RecordingHeader = z.infer<typeof RecordingHeader>;

export interface RecordingFrame {
  direction: Direction;
  /** Milliseconds since the session started. */
  at: number;
  data: Buffer;
}

/** Bytes appended but not yet written above which `append` asks the caller to wait. */
const HIGH_WATER = 1024 * 1024;
/**
 * Bytes worth a write of their own; fewer wait at most BATCH_WAIT_MS for more. Each write is a
 * hand-over to the thread pool, which cost the worker more than the copy it asks for: 512 KiB
 * rather than 128 KiB took 0.4-1.2 CPU-seconds less of it per relayed GiB.
 */
const BATCH = 512 * 1024;
const BATCH_WAIT_MS = 5;
/** Buffers per writev (Linux's IOV_MAX). */
const IOV_MAX = 1024;
/**
 * Alignment of an O_DIRECT write's memory, file offset and length: a disk's logical block is
 * 512 B or 4 KiB, and 4 KiB suits both at no extra cost.
 */
const ALIGN = 4096;
/** A bulk write: a whole slab, BATCH bytes, ALIGN-aligned. */
const SLAB = BATCH;
/**
 * Bytes that, once they waited BATCH_WAIT_MS, go through a slab too (a bulk session slower than
 * BATCH per BATCH_WAIT_MS); fewer (an interactive session) go through the page cache as they are.
 */
const DIRECT_MIN = 64 * 1024;
/**
 * Slabs the process keeps at most (16 MiB), shared by every writer; a writer holds at most two
 * (one written, one filled) and only while a bulk write is under way, so an idle or interactive
 * session holds none. With none free a batch is written through the page cache instead.
 */
const slabs = new SlabPool(SLAB, 32);
/** Whether a refusal of O_DIRECT was logged (once per process: the next are alike). */
let refusedLogged = false;

/** A slab filled and waiting for its write: file bytes [offset, offset + length). */
interface FilledSlab {
  buf: Buffer;
  offset: number;
  length: number;
  /** Bytes at its start that were already written through the page cache (read back first). */
  readBack: number;
}

export interface RecordingWriterOptions {
  /**
   * Write bulk batches with O_DIRECT when the filesystem accepts it (default). false: through
   * the page cache only, as on a filesystem that refuses O_DIRECT.
   */
  direct?: boolean;
  /** Where the writer says that it falls back to the page cache (once per process). */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Writes one session's recording. The header is written at once (a crash still leaves who,
 * what and when); the file is opened only once bytes flow, so idle sessions hold no file.
 *
 * Frames wait in memory until 512 KiB wait or the oldest waited 5 ms: a relayed stream arrives
 * as 16 KiB TLS records, and a write per record cost the appliance more CPU than relaying the
 * bytes. A small batch (an interactive session) is written as it is, one positional `writev`
 * through the page cache. A bulk batch (64 KiB or more) is copied into a 512 KiB aligned slab,
 * the frames' buffers let go of at once, and written from there with O_DIRECT at its aligned
 * offset: the bytes of the partial block before it, written earlier through the page cache, are
 * read back into the slab's start, and the partial block at its end goes through the page
 * cache. Copying a stream into the page cache cost the benchmark VM's kernel 0.2-1.7 CPU-s per
 * GiB (fresh guest pages are dear to touch), O_DIRECT from reused slabs 0.1-0.2; and a
 * write-once stream, not read back soon, should not push the database's pages out of the cache.
 * The kernel keeps O_DIRECT writes and the cached pages of a file coherent, and one write is
 * under way at a time, in file order: a recording cut short by a crash holds every byte written
 * before its end. A filesystem that refuses O_DIRECT gets every batch through the page cache
 * (logged once per process).
 */
export class RecordingWriter {
  /** The descriptor for writes through the page cache (and reading a partial block back). */
  private fd: number | undefined;
  /** The O_DIRECT descriptor, opened at the first bulk batch. */
  private directFd: number | undefined;
  private direct: boolean;
  private opening = false;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  /** Frame headers and bytes not yet handed over or copied into a slab, oldest first. */
  private queue: Buffer[] = [];
  /** Bytes queued. */
  private queued = 0;
  /** Slabs filled, waiting for their write (before every queued byte in the file). */
  private filled: FilledSlab[] = [];
  /** Slabs this writer holds (filled or being written). */
  private held = 0;
  /** The slab being written. */
  private inFlight: FilledSlab | undefined;
  /** Bytes queued, in slabs or being written. */
  private unwritten = 0;
  private drainWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private error: Error | undefined;
  private onErrorFn: ((e: Error) => void) | undefined;
  private readonly log: RecordingWriterOptions['log'];
  /**
   * SHA-256 and size of the file as it is written, in order: storing the finished recording
   * then need not read it back (a profile of a bulk session showed reading and hashing 1 GiB
   * again at its end among the worker's costliest work). The size is also the file offset of
   * the first queued byte.
   */
  private readonly hash = createHash('sha256');
  private size = 0;
  /** Writes the kernel took so far, by the way they went. */
  readonly writes = { direct: 0, buffered: 0 };

  constructor(
    readonly path: string,
    readonly header: RecordingHeader,
    options: RecordingWriterOptions = {},
  ) {
    this.direct = options.direct ?? true;
    this.log = options.log;
    const head = Buffer.from(RECORDING_MAGIC + JSON.stringify(header) + '\n');
    writeFileSync(path, head, { flag: 'wx', mode: 0o600 });
    this.hash.update(head);
    this.size = head.length;
  }

  /** Append one chunk; false when the caller should wait (see `onDrain`). */
  append(direction: Direction, data: Buffer): boolean {
    const head = Buffer.allocUnsafe(FRAME_HEADER);
    head.writeUInt8(DIRECTION_CODE[direction], 0);
    head.writeUInt32BE(Math.min(0xffffffff, Date.now() - this.header.startedAt), 1);
    head.writeUInt32BE(data.length, 5);
    this.queue.push(head, data);
    this.queued += FRAME_HEADER + data.length;
    this.unwritten += FRAME_HEADER + data.length;
    this.schedule();
    return this.unwritten < HIGH_WATER;
  }

  /** Call `fn` (later, never synchronously) once the bytes waiting are below the high mark. */
  onDrain(fn: () => void): void {
    if (this.unwritten < HIGH_WATER || this.error) process.nextTick(fn);
    else this.drainWaiters.push(fn);
  }

  /** Called once if the recording cannot be written: the session must not go on unrecorded. */
  onError(fn: (e: Error) => void): void {
    this.onErrorFn = fn;
  }

  /** Fill slabs and write now if a batch is waiting, else once the wait for more is over. */
  private schedule(): void {
    this.fillSlabs(false);
    if (this.filled.length > 0 || this.queued >= BATCH) this.writeNext();
    else if (this.queued > 0 && !this.timer)
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.writeNext();
      }, BATCH_WAIT_MS);
  }

  /**
   * Copy queued frames into slabs while a whole slab's worth waits (counting the partial block
   * before them, read back at its write) and this writer holds fewer than two; `partial`: also
   * a last slab of DIRECT_MIN bytes or more.
   */
  private fillSlabs(partial: boolean): void {
    while (this.direct && !this.error && this.held < 2) {
      const readBack = this.size % ALIGN;
      const length = Math.min(SLAB, this.queued + readBack);
      if (length < SLAB && !(partial && this.queued >= DIRECT_MIN)) return;
      const buf = slabs.take();
      if (!buf) return;
      this.held++;
      let at = readBack;
      let used = 0;
      while (at < length) {
        const b = this.queue[used]!;
        const n = Math.min(b.length, length - at);
        b.copy(buf, at, 0, n);
        at += n;
        if (n === b.length) used++;
        else this.queue[used] = b.subarray(n);
      }
      this.queue.splice(0, used);
      this.hash.update(buf.subarray(readBack, length));
      this.queued -= length - readBack;
      this.filled.push({ buf, offset: this.size - readBack, length, readBack });
      this.size += length - readBack;
    }
  }

  private fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    // Called by the one write or open under way, which has ended.
    this.writing = false;
    if (this.inFlight) this.release(this.inFlight);
    this.inFlight = undefined;
    clearTimeout(this.timer);
    this.queue = [];
    this.queued = 0;
    for (const slab of this.filled.splice(0)) this.release(slab);
    this.unwritten = 0;
    this.onErrorFn?.(e);
    this.wake();
  }

  private release(slab: FilledSlab): void {
    slabs.give(slab.buf);
    this.held--;
  }

  private wake(): void {
    if (this.unwritten < HIGH_WATER || this.error)
      for (const fn of this.drainWaiters.splice(0)) fn();
    if ((this.unwritten === 0 && !this.opening && !this.writing) || this.error)
      for (const fn of this.idleWaiters.splice(0)) fn();
  }

  /** Start the next write if none is under way: a filled slab first, else the queue. */
  private writeNext(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.opening || this.error) return;
    // The queue's turn (its wait is over, or the session ended): a partial slab if it is large.
    if (this.filled.length === 0) this.fillSlabs(true);
    if (this.filled.length === 0 && this.queue.length === 0) return;
    if (this.fd === undefined) {
      this.opening = true;
      // Not 'a': O_APPEND would put every positional write at the end.
      open(this.path, 'r+', (e, fd) => {
        this.opening = false;
        if (e) return this.fail(e);
        this.fd = fd;
        this.writeNext();
      });
      return;
    }
    this.writing = true;
    const slab = this.filled.shift();
    this.inFlight = slab;
    if (slab) this.writeSlab(this.fd, slab);
    else this.writeQueue(this.fd);
  }

  /** One write done: the next, or wait for more. */
  private written(bytes: number): void {
    this.writing = false;
    this.unwritten -= bytes;
    this.wake();
    this.schedule();
  }

  /** Hand the queued frames to the page cache, one positional writev. */
  private writeQueue(fd: number): void {
    const batch = this.queue.splice(0, IOV_MAX);
    let bytes = 0;
    for (const b of batch) {
      bytes += b.length;
      this.hash.update(b);
    }
    const position = this.size;
    this.queued -= bytes;
    this.size += bytes;
    this.writeBuffered(fd, batch, position, () => this.written(bytes));
  }

  /** Write every byte of `batch` at `position` through the page cache. */
  private writeBuffered(fd: number, batch: Buffer[], position: number, done: () => void): void {
    writev(fd, batch, position, (e, n) => {
      if (e) return this.fail(e);
      this.writes.buffered++;
      position += n;
      let i = 0;
      for (; i < batch.length && n >= batch[i]!.length; i++) n -= batch[i]!.length;
      if (i === batch.length) return done();
      batch = batch.slice(i);
      batch[0] = batch[0]!.subarray(n);
      this.writeBuffered(fd, batch, position, done);
    });
  }

  /**
   * Write a slab: its aligned part with O_DIRECT (after reading back the bytes before its
   * first whole block), the rest of a partial slab (under ALIGN bytes) through the page cache.
   */
  private writeSlab(fd: number, slab: FilledSlab): void {
    const { buf, offset, length, readBack } = slab;
    const done = () => {
      this.inFlight = undefined;
      this.release(slab);
      this.written(length - readBack);
    };
    const buffered = (from: number) =>
      this.writeBuffered(fd, [buf.subarray(from, length)], offset + from, done);
    if (!this.direct) return buffered(readBack);
    if (this.directFd === undefined) {
      // Nothing here fails the session: without O_DIRECT, the page cache.
      return open(this.path, constants.O_WRONLY | constants.O_DIRECT, (e, directFd) => {
        if (e) this.refused(e);
        else this.directFd = directFd;
        this.writeSlab(fd, slab);
      });
    }
    const directFd = this.directFd;
    const aligned = length - (length % ALIGN);
    const writeDirect = () => {
      write(directFd, buf, 0, aligned, offset, (e, n) => {
        if (e && (e as NodeJS.ErrnoException).code === 'EINVAL') {
          // The filesystem took the descriptor but not its first write (alignment), or a write
          // was cut at a limit (a file size limit) to a length O_DIRECT cannot write: through
          // the page cache, which then says what stopped it.
          if (this.writes.direct === 0) this.refused(e);
          return buffered(readBack);
        }
        if (e) return this.fail(e);
        this.writes.direct++;
        // The rest of a partial slab, or what a short write left, through the page cache.
        if (n < length) return buffered(n);
        done();
      });
    };
    if (readBack === 0) return writeDirect();
    read(fd, buf, 0, readBack, offset, (e, n) => {
      if (e) return this.fail(e);
      if (n < readBack)
        return this.fail(new Error(`recording ${this.path} is shorter than what was written`));
      writeDirect();
    });
  }

  /** O_DIRECT is refused for this file: the page cache from now on. */
  private refused(e: Error): void {
    this.direct = false;
    if (this.directFd !== undefined) close(this.directFd, () => undefined);
    this.directFd = undefined;
    if (refusedLogged) return;
    refusedLogged = true;
    this.log?.('recordings written through the page cache: O_DIRECT refused', {
      dir: dirname(this.path),
      err: (e as NodeJS.ErrnoException).code ?? e.message,
    });
  }

  /** Write what is appended, close the file and make it durable; its SHA-256 (hex) and size. */
  async finish(): Promise<{ sha256: string; size: number }> {
    await this.durable();
    return { sha256: this.hash.digest('hex'), size: this.size };
  }

  private async durable(): Promise<void> {
    this.writeNext();
    if (!this.error && (this.unwritten > 0 || this.opening || this.writing))
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const { fd, directFd } = this;
    this.fd = this.directFd = undefined;
    if (directFd !== undefined) await promisify(close)(directFd);
    if (fd === undefined) {
      if (this.error) throw this.error;
      return fsyncPath(this.path);
    }
    try {
      if (this.error) throw this.error;
      // One inode: the O_DIRECT writes' blocks and size are made durable with the rest.
      await promisify(fsync)(fd);
    } finally {
      await promisify(close)(fd);
    }
  }
}

/**
 * Parse a recording. A truncated last frame (the appliance stopped mid-write) is dropped; any
 * other damage is an error naming what is wrong.
 */
export function parseRecording(data: Buffer): {
  header: RecordingHeader;
  frames: RecordingFrame[];
  truncated: boolean;
} {
  const damaged = (what: string) =>
    sessionsErrors.RECORDING_DAMAGED(
      `This is not a whole Gatehouse session recording: ${what}. Download it again from the site.`,
    );
  if (data.subarray(0, RECORDING_MAGIC.length).toString('latin1') !== RECORDING_MAGIC)
    throw damaged('it does not start with the recording marker');
  const headerEnd = data.indexOf(0x0a, RECORDING_MAGIC.length);
  if (headerEnd < 0) throw damaged('its header line is cut short');
  let header: RecordingHeader;
  try {
    header = RecordingHeader.parse(
      JSON.parse(data.subarray(RECORDING_MAGIC.length, headerEnd).toString('utf8')),
    );
  } catch {
    throw damaged('its header is not valid');
  }
  const frames: RecordingFrame[] = [];
  let offset = headerEnd + 1;
  while (offset + FRAME_HEADER <= data.length) {
    const code = data.readUInt8(offset);
    if (code > 1) throw damaged(`frame at byte ${offset} has an unknown direction`);
    const length = data.readUInt32BE(offset + 5);
    if (offset + FRAME_HEADER + length > data.length) break;
    frames.push({
      direction: code === 0 ? 'to-target' : 'from-target',
      at: data.readUInt32BE(offset + 1),
      data: data.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length),
    });
    offset += FRAME_HEADER + length;
  }
  return { header, frames, truncated: offset !== data.length };
}
