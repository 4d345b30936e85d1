import { ftruncateSync, write as fsWrite, writeSync } from 'node:fs';
import {
  checkLimits,
  closeQuietly,
  openCurrent,
  RotatedFiles,
  type RotationLimits,
} from './log-rotate.js';

export interface LogFileOptions {
  limits: RotationLimits;
  /**
   * Told once when the file cannot be rotated or written (and once when it can again): the
   * caller writes it to its other stream (stdout), since this file is the one failing.
   */
  report: (msg: string, fields: Record<string, unknown>) => void;
  /** How long after a failed rotation or write the next attempt waits. */
  retryMs?: number;
}

/** Beyond this many bytes waiting to be written (a stalled disk), lines are dropped and counted. */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** What `take` returns when the current file must be rotated before the next line. */
const ROTATE = Symbol('rotate');

interface Write {
  fd: number;
  pos: number;
  data: Buffer;
  done: number;
  /** Written again synchronously (a flush at exit or close) while this one was pending. */
  superseded: boolean;
  /** Its descriptor was given up while it was pending: closed when it calls back. */
  closeAfter: boolean;
}

/**
 * One process's log file, rotated by size: a line that would take the file past
 * `maxFileBytes` goes to a fresh file after the current one is renamed `.1` (older ones shift
 * to `.2.gz` …, gzipped; beyond `keepFiles` they are removed: log-rotate.ts). Lines are never
 * split: a line longer than the limit is written whole, alone in its file.
 *
 * One writer per file (each process has its own file, under its own lock): rotation is a
 * rename in this process, between two writes, so no line is lost, split or written twice
 * across it. Lines are queued and written once per turn of the event loop with one
 * asynchronous positional write at a time (a stalled disk never blocks the event loop); lines
 * arriving meanwhile wait for the next write, or for the end of a rotation, which is
 * asynchronous too. Beyond `MAX_QUEUED_BYTES` waiting, lines are
 * dropped from the file (they still went to stdout) and counted, and the next line written
 * says how many. Only `flushSync` (at exit, `close`) writes synchronously: it writes a pending
 * write's bytes again at the same place, then the queue, without rotating (at most the queue
 * passes the limit; the next rotation comes at the next line). When rotation fails (a
 * rename refused, disk full) the failure is reported once, the file keeps growing up to twice
 * its limit, and rotation is tried again after `retryMs`; lines beyond that bound, or that
 * cannot be written, are left out of the file (they still went to stdout) and counted, and
 * the count is written once the file works again. A write cut short keeps only the whole
 * lines written: the file is cut back to the last newline, so no line is ever glued to half
 * of another.
 */
export class RotatingLogFile {
  private fd: number;
  /** Where the next write goes: the end of the last whole line written. */
  private size: number;
  private queue: string[] = [];
  private head = 0;
  private queued = 0;
  private scheduled = false;
  private pending?: Write;
  /** A rotation is under way: no write starts until it ends. */
  private rotating = false;
  /** The rotation the next line past the limit asked for failed: that line does not retry it. */
  private retried = false;
  private readonly flushed: (() => void)[] = [];
  private readonly stale = new Set<Write>();
  private retryAt = 0;
  private failure?: string;
  private left = { lines: 0, bytes: 0 };
  private dropped = { lines: 0, bytes: 0 };
  /** What held the lines up when the first of those dropped came: said in the notice. */
  private droppedWhile = '';
  private limits: RotationLimits;
  private readonly retryMs: number;
  private closed = false;
  private readonly positional: boolean;
  private readonly rotated: RotatedFiles;

  constructor(
    readonly file: string,
    private readonly opts: LogFileOptions,
  ) {
    this.limits = checkLimits(opts.limits);
    this.retryMs = opts.retryMs ?? 10_000;
    ({ fd: this.fd, size: this.size, positional: this.positional } = openCurrent(file));
    this.rotated = new RotatedFiles(file, opts.report);
    OPEN.add(this);
    // What a crash left mid-compression is settled, what an older version left plain gzipped.
    if (this.positional) this.rotated.compress();
  }

  /** New limits (the administrator changed them): the next line is written under them. */
  setLimits(limits: RotationLimits): void {
    this.limits = checkLimits(limits);
  }

  /** pino's destination interface: one whole line (with its newline) per call. Never blocks. */
  write(line: string): boolean {
    if (this.closed) return false;
    if (this.queued + line.length > MAX_QUEUED_BYTES) {
      if (this.dropped.lines === 0)
        this.droppedWhile = this.rotating
          ? ' while it was being rotated (the rotation held up: a slow or stalled disk)'
          : this.pending
            ? ' while a write to it was under way (a slow or stalled disk)'
            : ' (more lines at once than a write takes)';
      this.dropped.lines++;
      this.dropped.bytes += Buffer.byteLength(line);
      return true;
    }
    this.queue.push(line);
    this.queued += line.length;
    this.schedule();
    return true;
  }

  /** `cb` is called once every line written so far is in the file (rotations done). */
  flush(cb: (err?: Error) => void = () => undefined): void {
    if (this.closed) return cb();
    this.flushed.push(cb);
    this.schedule();
  }

  /** Write every queued line now, synchronously, to the current file (no rotation). */
  flushSync(): void {
    const w = this.pending;
    if (w) {
      // It may or may not have reached the file: the same bytes again, at the same place.
      this.pending = undefined;
      w.superseded = true;
      this.stale.add(w);
      let done = 0;
      let error: Error | undefined;
      try {
        // Not on a pipe: what it took is gone, and the rest would come out of order.
        if (!this.positional) done = w.data.length;
        while (done < w.data.length)
          done += writeSync(w.fd, w.data, done, w.data.length - done, w.pos + done);
      } catch (e) {
        error = e as Error;
      }
      this.written(w.data, done, error);
    }
    for (let data = this.take(true); data; data = this.take(true)) {
      let done = 0;
      let error: Error | undefined;
      const pos = this.size;
      try {
        while (done < data.length)
          done += writeSync(this.fd, data, done, data.length - done, this.at(pos + done));
      } catch (e) {
        error = e as Error;
      }
      this.written(data, done, error);
    }
  }

  close(): void {
    if (this.closed) return;
    this.flushSync();
    this.closed = true;
    this.rotated.stop();
    OPEN.delete(this);
    this.release(this.fd);
    for (const cb of this.flushed.splice(0)) cb();
  }

  private at(pos: number): number | null {
    return this.positional ? pos : null;
  }

  private schedule(): void {
    if (this.scheduled || this.pending || this.rotating || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Start the next asynchronous write or rotation, if none is under way and lines wait. */
  private pump(): void {
    if (this.pending || this.rotating || this.closed) return;
    const data = this.take(false);
    if (data === ROTATE) return this.rotate();
    if (!data) {
      for (const cb of this.flushed.splice(0)) cb();
      return;
    }
    const w: Write = {
      fd: this.fd,
      pos: this.size,
      data,
      done: 0,
      superseded: false,
      closeAfter: false,
    };
    this.pending = w;
    const step = () =>
      fsWrite(w.fd, w.data, w.done, w.data.length - w.done, this.at(w.pos + w.done), (err, n) => {
        if (w.superseded) {
          this.stale.delete(w);
          if (w.closeAfter) closeQuietly(w.fd);
          return;
        }
        if (!err && n > 0) {
          w.done += n;
          if (w.done < w.data.length) return step();
        }
        this.pending = undefined;
        this.written(w.data, w.done, err ?? (n > 0 ? undefined : new Error('wrote 0 bytes')));
        this.pump();
      });
    step();
  }

  /**
   * The bytes that go into the current file next, taken from the queue, or undefined when
   * none wait; `ROTATE` when the next line would pass the limit and rotation is due (never
   * `atExit`, when lines go to the current file whatever its size).
   */
  private take(atExit: false): Buffer | typeof ROTATE | undefined;
  private take(atExit: true): Buffer | undefined;
  private take(atExit: boolean): Buffer | typeof ROTATE | undefined {
    if (this.dropped.lines > 0) this.noteDropped();
    const { maxFileBytes } = this.limits;
    const batch: Buffer[] = [];
    let bytes = 0;
    while (this.head < this.queue.length) {
      const line = this.queue[this.head]!;
      const n = Buffer.byteLength(line);
      if (this.size + bytes + n > maxFileBytes && this.size + bytes > 0 && !atExit) {
        // What fits goes first; rotation comes between two writes.
        if (bytes > 0) break;
        if (this.retried) this.retried = false;
        else if (Date.now() >= this.retryAt) return ROTATE;
        // Past twice the limit with rotation failing: the line is left out.
        if (this.size + n > 2 * maxFileBytes) {
          this.dequeue();
          this.leaveOut(1, n);
          continue;
        }
      }
      this.dequeue();
      batch.push(Buffer.from(line));
      bytes += n;
    }
    if (bytes === 0) return undefined;
    return batch.length === 1 ? batch[0]! : Buffer.concat(batch, bytes);
  }

  private dequeue(): void {
    this.queued -= this.queue[this.head]!.length;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
  }

  /** A line written before the rest of the queue (a notice about the file itself). */
  private first(line: string): void {
    this.queue.splice(this.head, 0, line);
    this.queued += line.length;
  }

  /** After a write of `data` of which `done` bytes reached the file. */
  private written(data: Buffer, done: number, error?: Error): void {
    if (!error) {
      this.size += data.length;
      if (this.failure?.startsWith('write')) this.recovered();
      return;
    }
    // Cut short (disk full, file-size limit): keep only whole lines, so that the next line
    // is not glued to half of this one (the next write goes at `size` in any case).
    const whole = done > 0 ? data.lastIndexOf(10, done - 1) + 1 : 0;
    if (whole < done) {
      try {
        ftruncateSync(this.fd, this.size + whole);
      } catch {
        // The next write overwrites the half line.
      }
    }
    this.size += whole;
    this.failed('write', error);
    this.leaveOut(countLines(data, whole), data.length - whole);
  }

  /** Give up a descriptor: now, or when a write still pending on it calls back. */
  private release(fd: number): void {
    for (const w of this.stale)
      if (w.fd === fd) {
        w.closeAfter = true;
        return;
      }
    closeQuietly(fd);
  }

  /**
   * Rotate (log-rotate.ts) while lines wait; then go on in the fresh file, or, when rotation
   * failed, in the current one (the line that asked for it does not retry it).
   */
  private rotate(): void {
    this.rotating = true;
    const { keepFiles } = this.limits;
    this.rotated
      .rotate(keepFiles)
      .then(
        (fd) => {
          if (this.closed) return closeQuietly(fd);
          this.release(this.fd);
          this.fd = fd;
          this.size = 0;
          this.recovered();
        },
        (e: Error) => {
          if (this.closed) return;
          this.retried = true;
          this.failed('rotate', e);
        },
      )
      .finally(() => {
        this.rotating = false;
        // Even a failed rotation may have shifted `.1` to `.2`.
        this.rotated.compress();
        this.pump();
      });
  }

  private failed(what: 'rotate' | 'write', e: Error): void {
    this.retryAt = Date.now() + this.retryMs;
    if (this.failure) return;
    this.failure = `${what}: ${e.message}`;
    this.opts.report(
      what === 'rotate'
        ? `cannot rotate ${this.file}; it grows up to twice its limit, then lines go to stdout only; retrying every ${Math.round(this.retryMs / 1000)} s`
        : `cannot write ${this.file}; lines go to stdout only until it can; retrying every ${Math.round(this.retryMs / 1000)} s`,
      { file: this.file, reason: e.message, code: (e as NodeJS.ErrnoException).code },
    );
  }

  private recovered(): void {
    if (!this.failure) return;
    const fields = { file: this.file, was: this.failure, leftOut: this.left };
    this.failure = undefined;
    this.retryAt = 0;
    const msg =
      this.left.lines > 0
        ? `${this.file} works again; ${this.left.lines} lines (${this.left.bytes} bytes) were written to stdout only meanwhile`
        : `${this.file} works again`;
    this.left = { lines: 0, bytes: 0 };
    this.opts.report(msg, fields);
    this.first(notice(fields, msg));
  }

  private noteDropped(): void {
    const fields = { file: this.file, dropped: this.dropped };
    const msg = `${this.dropped.lines} lines (${this.dropped.bytes} bytes) were written to stdout only: more than ${MAX_QUEUED_BYTES / 1024 / 1024} MiB waited to be written to ${this.file}${this.droppedWhile}`;
    this.dropped = { lines: 0, bytes: 0 };
    this.opts.report(msg, fields);
    this.first(notice(fields, msg));
  }

  private leaveOut(lines: number, bytes: number): void {
    this.left.lines += lines;
    this.left.bytes += bytes;
  }
}

const notice = (fields: Record<string, unknown>, msg: string) =>
  `${JSON.stringify({ level: 40, time: new Date().toISOString(), pid: process.pid, ...fields, msg })}\n`;

/** Files still open at exit are flushed then (an exit after an error, process.exit()). */
const OPEN = new Set<RotatingLogFile>();
process.on('exit', () => {
  for (const f of OPEN) f.flushSync();
});

function countLines(data: Buffer, from: number): number {
  let n = 0;
  for (let i = data.indexOf(10, from); i !== -1; i = data.indexOf(10, i + 1)) n++;
  return n;
}
