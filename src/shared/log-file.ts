import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

/** How big a log file may grow before it is rotated, and how many rotated files are kept. */
export interface RotationLimits {
  maxFileBytes: number;
  /** Rotated files kept beside the current one: `appliance.log.1` (newest) … `.keepFiles`. */
  keepFiles: number;
}

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

const OPENING = '.opening';

/**
 * One process's log file, rotated by size: a line that would take the file past
 * `maxFileBytes` goes to a fresh file after the current one is renamed `.1` (older ones shift
 * to `.2` …; beyond `keepFiles` they are removed). Lines are never split: a line longer than
 * the limit is written whole, alone in its file.
 *
 * One writer per file (each process has its own file, under its own lock): rotation is a
 * rename in this process, between two writes, so no line is lost, split or written twice
 * across it. Lines are queued and written synchronously once per turn of the event loop (or
 * when 64 KiB are queued), which keeps the per-line cost to a push and makes a flush at exit
 * exact. When rotation fails (a rename refused, disk full) the failure is reported once, the
 * file keeps growing up to twice its limit, and rotation is tried again after `retryMs`; lines
 * beyond that bound, or that cannot be written, are left out of the file (they still went to
 * stdout) and counted, and the count is written once the file works again.
 */
export class RotatingLogFile {
  private fd: number;
  private size: number;
  private queue: string[] = [];
  private queued = 0;
  private scheduled = false;
  private retryAt = 0;
  private failure?: string;
  private left = { lines: 0, bytes: 0 };
  private limits: RotationLimits;
  private readonly retryMs: number;
  private readonly dir: string;
  private readonly base: string;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly opts: LogFileOptions,
  ) {
    this.limits = checkLimits(opts.limits);
    this.retryMs = opts.retryMs ?? 10_000;
    this.dir = path.dirname(file);
    this.base = path.basename(file);
    mkdirSync(this.dir, { recursive: true });
    // A rotation cut short by a crash may leave the next file, not yet named: nothing in it.
    rmSync(file + OPENING, { force: true });
    this.fd = openSync(file, 'a');
    this.size = fstatSync(this.fd).size;
    OPEN.add(this);
  }

  /** New limits (the administrator changed them): the next line is written under them. */
  setLimits(limits: RotationLimits): void {
    this.limits = checkLimits(limits);
  }

  /** pino's destination interface: one whole line (with its newline) per call. */
  write(line: string): boolean {
    if (this.closed) return false;
    this.queue.push(line);
    this.queued += line.length;
    if (this.queued >= 65_536) this.flushSync();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushSync());
    }
    return true;
  }

  flush(cb?: (err?: Error) => void): void {
    this.flushSync();
    cb?.();
  }

  /** Write every queued line now, rotating where a line would pass the limit. */
  flushSync(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const lines = this.queue;
    this.queue = [];
    this.queued = 0;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const { maxFileBytes } = this.limits;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (this.size + batchBytes + bytes > maxFileBytes && this.size + batchBytes > 0) {
        this.writeOut(batch, batchBytes);
        batch = [];
        batchBytes = 0;
        // Rotated, or past twice the limit with rotation failing: the line is left out.
        if (!this.rotateIfDue() && this.size + bytes > 2 * maxFileBytes) {
          this.leaveOut(1, bytes);
          continue;
        }
      }
      batch.push(Buffer.from(line));
      batchBytes += bytes;
    }
    this.writeOut(batch, batchBytes);
  }

  close(): void {
    if (this.closed) return;
    this.flushSync();
    this.closed = true;
    OPEN.delete(this);
    closeSync(this.fd);
  }

  private writeOut(batch: Buffer[], bytes: number): void {
    if (bytes === 0) return;
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, bytes);
    let offset = 0;
    try {
      while (offset < data.length) offset += writeSync(this.fd, data, offset);
      if (this.failure?.startsWith('write')) this.recovered();
    } catch (e) {
      this.failed('write', e as Error);
      this.leaveOut(countLines(data, offset), data.length - offset);
    }
    this.size += offset;
  }

  /** Whether the file was rotated: not while an earlier failure's retry time has not come. */
  private rotateIfDue(): boolean {
    if (Date.now() < this.retryAt) return false;
    try {
      this.rotate();
      this.recovered();
      return true;
    } catch (e) {
      this.failed('rotate', e as Error);
      return false;
    }
  }

  /**
   * The next file is opened first, under a temporary name: if that fails (disk full, too many
   * open files) nothing has moved. Then the oldest kept files go, the others shift up, the
   * current file becomes `.1` and the new one takes its name.
   */
  private rotate(): void {
    const next = this.file + OPENING;
    const fd = openSync(next, 'w');
    try {
      const { keepFiles } = this.limits;
      for (const { name, index } of this.rotated()) {
        if (index >= keepFiles) unlinkSync(path.join(this.dir, name));
      }
      for (let i = keepFiles - 1; i >= 1; i--)
        renameIfThere(this.numbered(i), this.numbered(i + 1));
      renameSync(this.file, this.numbered(1));
    } catch (e) {
      closeSync(fd);
      rmSync(next, { force: true });
      throw e;
    }
    renameSync(next, this.file);
    closeSync(this.fd);
    this.fd = fd;
    this.size = 0;
  }

  /** The rotated files there are now (`.1`, `.2.gz` …), whatever the limits were. */
  private rotated(): { name: string; index: number }[] {
    const pattern = new RegExp(`^${escapeRegExp(this.base)}\\.(\\d+)(\\.gz)?$`);
    const found: { name: string; index: number }[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = pattern.exec(name);
      if (m) found.push({ name, index: Number(m[1]) });
    }
    return found;
  }

  private numbered(i: number): string {
    return `${this.file}.${i}`;
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
    const line = `${JSON.stringify({ level: 40, time: new Date().toISOString(), pid: process.pid, ...fields, msg })}\n`;
    const bytes = Buffer.from(line);
    try {
      writeSync(this.fd, bytes);
      this.size += bytes.length;
    } catch {
      // Reported on stdout already.
    }
  }

  private leaveOut(lines: number, bytes: number): void {
    this.left.lines += lines;
    this.left.bytes += bytes;
  }
}

/** Files still open at exit are flushed then (an exit after an error, process.exit()). */
const OPEN = new Set<RotatingLogFile>();
process.on('exit', () => {
  for (const f of OPEN) f.flushSync();
});

function checkLimits(limits: RotationLimits): RotationLimits {
  const ok = (n: number) => Number.isInteger(n) && n >= 1;
  if (!ok(limits.maxFileBytes) || !ok(limits.keepFiles))
    throw new Error(
      `log rotation limits must be whole numbers of at least 1: ${JSON.stringify(limits)}`,
    );
  return { ...limits };
}

function renameIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function countLines(data: Buffer, from: number): number {
  let n = 0;
  for (let i = data.indexOf(10, from); i !== -1; i = data.indexOf(10, i + 1)) n++;
  return n;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
