import { createHash } from 'node:crypto';
import { close, fsync, open, writeFileSync, writev } from 'node:fs';
import { promisify } from 'node:util';
import { z } from 'zod';
import { fsyncPath } from '../shared/fs.js';
import { sessionsErrors } from './error-codes.js';

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
 * Writes one session's recording. The header is written at once (a crash still leaves who,
 * what and when); the file is opened only once bytes flow, so idle sessions hold no file.
 * Frames go to the file together, in one `writev` once 512 KiB wait or the oldest waited 5 ms:
 * a relayed stream arrives as 16 KiB TLS records, and a write per record (or two, header and
 * bytes, as a WriteStream did) cost the appliance more CPU than relaying the bytes.
 */
export class RecordingWriter {
  private fd: number | undefined;
  private opening = false;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  /** Frame headers and bytes not yet handed to the kernel, oldest first. */
  private queue: Buffer[] = [];
  /** Bytes queued, not yet being written. */
  private queued = 0;
  /** Bytes queued or being written. */
  private unwritten = 0;
  private drainWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private error: Error | undefined;
  private onErrorFn: ((e: Error) => void) | undefined;
  /**
   * SHA-256 and size of the file as it is written, in order: storing the finished recording
   * then need not read it back (a profile of a bulk session showed reading and hashing 1 GiB
   * again at its end among the worker's costliest work).
   */
  private readonly hash = createHash('sha256');
  private size = 0;

  constructor(
    readonly path: string,
    readonly header: RecordingHeader,
  ) {
    const head = Buffer.from(RECORDING_MAGIC + JSON.stringify(header) + '\n');
    writeFileSync(path, head, { flag: 'wx', mode: 0o600 });
    this.written(head);
  }

  private written(b: Buffer): void {
    this.hash.update(b);
    this.size += b.length;
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

  /** Write now if a batch is waiting, else once the wait for more is over. */
  private schedule(): void {
    if (this.queued >= BATCH) this.flush();
    else if (this.queued > 0 && !this.timer)
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, BATCH_WAIT_MS);
  }

  private fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    clearTimeout(this.timer);
    this.queue = [];
    this.queued = 0;
    this.unwritten = 0;
    this.onErrorFn?.(e);
    this.wake();
  }

  private wake(): void {
    if (this.unwritten < HIGH_WATER || this.error)
      for (const fn of this.drainWaiters.splice(0)) fn();
    if ((this.unwritten === 0 && !this.opening) || this.error)
      for (const fn of this.idleWaiters.splice(0)) fn();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.opening || this.error || this.queue.length === 0) return;
    if (this.fd === undefined) {
      this.opening = true;
      open(this.path, 'a', (e, fd) => {
        this.opening = false;
        if (e) return this.fail(e);
        this.fd = fd;
        this.flush();
      });
      return;
    }
    const batch = this.queue.splice(0, IOV_MAX);
    for (const b of batch) {
      this.queued -= b.length;
      this.written(b);
    }
    this.writing = true;
    this.writeAll(this.fd, batch);
  }

  /** Write every byte of `batch`, resuming after a short write. */
  private writeAll(fd: number, batch: Buffer[]): void {
    writev(fd, batch, (e, written) => {
      if (e) return this.fail(e);
      this.unwritten -= written;
      let i = 0;
      for (; i < batch.length && written >= batch[i]!.length; i++) written -= batch[i]!.length;
      if (i < batch.length) {
        batch = batch.slice(i);
        batch[0] = batch[0]!.subarray(written);
        return this.writeAll(fd, batch);
      }
      this.writing = false;
      this.wake();
      this.schedule();
    });
  }

  /** Write what is appended, close the file and make it durable; its SHA-256 (hex) and size. */
  async finish(): Promise<{ sha256: string; size: number }> {
    await this.durable();
    return { sha256: this.hash.digest('hex'), size: this.size };
  }

  private async durable(): Promise<void> {
    if (this.unwritten > 0 || this.opening)
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) {
      if (this.error) throw this.error;
      return fsyncPath(this.path);
    }
    try {
      // A failed recording's file is closed too (its descriptor was left open).
      if (this.error) throw this.error;
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
