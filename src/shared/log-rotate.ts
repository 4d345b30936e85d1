import {
  close,
  constants,
  createReadStream,
  createWriteStream,
  fstatSync,
  mkdirSync,
  open,
  openSync,
  promises as fsp,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { renameDurably } from './fs.js';

/*
 * A log file's files on disk: the current one, opened at start, and the rotated ones kept
 * beside it: `appliance.log.1` (the newest, plain, so that it is read and tailed as it is),
 * `appliance.log.2.gz` … (older, gzipped). After the start everything here is asynchronous:
 * the listing, removing, renaming and compressing run on libuv's thread pool, never on the
 * thread that writes the lines (the relay worker's).
 */

/** How big a log file may grow before it is rotated, and how many rotated files are kept. */
export interface RotationLimits {
  maxFileBytes: number;
  /** Rotated files kept beside the current one: `appliance.log.1` (newest) … `.keepFiles`. */
  keepFiles: number;
}

export function checkLimits(limits: RotationLimits): RotationLimits {
  const ok = (n: number) => Number.isInteger(n) && n >= 1;
  if (!ok(limits.maxFileBytes) || !ok(limits.keepFiles))
    throw new Error(
      `log rotation limits must be whole numbers of at least 1: ${JSON.stringify(limits)}`,
    );
  return { ...limits };
}

/** The next file's name while a rotation opens it (`appliance.log.opening`). */
const OPENING = '.opening';

/**
 * Open the current file at start, to write at its end. A rotation cut short by a crash may
 * have left the next file, not yet named: nothing is in it, it goes. A file left ending in half
 * a line (the process killed during a write) is ended with a newline, so that the next line
 * starts on its own: nothing is cut, the half line stays as it was.
 */
export function openCurrent(file: string): { fd: number; size: number; positional: boolean } {
  mkdirSync(path.dirname(file), { recursive: true });
  rmSync(file + OPENING, { force: true });
  // Not O_APPEND: writes are positional, so a write repeated at exit lands on itself.
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT);
  const st = fstatSync(fd);
  // A pipe (a test's stand-in for a stalled disk) has no positions: written where it is.
  if (!st.isFile()) return { fd, size: st.size, positional: false };
  const last = Buffer.alloc(1);
  if (st.size === 0 || (readSync(fd, last, 0, 1, st.size - 1) === 1 && last[0] === 10))
    return { fd, size: st.size, positional: true };
  writeSync(fd, '\n', st.size);
  return { fd, size: st.size + 1, positional: true };
}

/** A rotated file being compressed: `appliance.log.2.gz.partial` until it is whole. */
const PARTIAL = '.partial';

/**
 * The rotated files of one log file, rotated and compressed one task at a time (both move
 * them); compressing goes on in the background while lines are written. A rotation goes
 * first: lines wait for it (log-file.ts), so it never waits behind a compression. The files
 * are gzipped one per task, a rotation asked for is done before the next file, and a gzip
 * under way when a rotation is asked for is given up (its `.partial` removed) and done again
 * after the rotation.
 */
export class RotatedFiles {
  private upkeep: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** Rotations asked for and not yet done: a compression gives way to them. */
  private rotations = 0;
  /** A compression is queued or under way (one is enough: it goes through every file). */
  private compressing = false;
  /** The compression asked for again while one was under way: one more round after it. */
  private again = false;
  private gzipping?: AbortController;

  constructor(
    private readonly file: string,
    private readonly report: (msg: string, fields: Record<string, unknown>) => void,
  ) {}

  /** `rotateFiles`, once the rotation or the one file being gzipped before it is done. */
  rotate(keepFiles: number): Promise<number> {
    this.rotations++;
    this.gzipping?.abort();
    return this.then(() => rotateFiles(this.file, keepFiles)).finally(() => this.rotations--);
  }

  /** `compressRotated` in the background; a failure is reported, the files stay plain. */
  compress(): void {
    if (this.compressing) {
      this.again = true;
      return;
    }
    this.compressing = true;
    this.again = false;
    this.then(async () => {
      const gzipping = new AbortController();
      this.gzipping = gzipping;
      try {
        return await compressRotated(this.file, {
          signal: gzipping.signal,
          giveWay: () => this.rotations > 0,
        });
      } finally {
        this.gzipping = undefined;
      }
    }).then(
      (finished) => {
        this.compressing = false;
        // Given way to a rotation (queued by now): the rest after it.
        if (!finished || this.again) this.compress();
      },
      (e: NodeJS.ErrnoException) => {
        this.compressing = false;
        if (this.stopped) return;
        this.report(
          `cannot compress the rotated files of ${this.file}; they stay plain until the next rotation`,
          { file: this.file, reason: e.message, code: e.code },
        );
      },
    );
  }

  /** The file is closed: no task starts any more (one under way ends on its own). */
  stop(): void {
    this.stopped = true;
  }

  private then<T>(task: () => Promise<T>): Promise<T> {
    const done = this.upkeep.then(() => {
      if (this.stopped) throw new Error(`${this.file} is closed`);
      return task();
    });
    this.upkeep = done.catch(() => undefined);
    return done;
  }
}

/**
 * Rotate `file`'s rotated files and return the descriptor of its fresh, empty file. The next
 * file is opened first, under a temporary name: if that fails (disk full, too many open files)
 * nothing has moved. Then the oldest kept files go, the others shift up (`.2.gz` to `.3.gz`),
 * the current file becomes `.1` and the new one takes its name. If a rename fails, the next
 * file is closed and removed; the older files are shifted only when `.1` is free, so a
 * rotation failing again and again does not remove one more old file each time.
 */
export async function rotateFiles(file: string, keepFiles: number): Promise<number> {
  const next = file + OPENING;
  const fd = await new Promise<number>((resolve, reject) =>
    open(next, 'w', (e, fd) => (e ? reject(e) : resolve(fd))),
  );
  try {
    const rotated = await rotatedFiles(file);
    if (rotated.some((f) => f.index === 1 && !f.gz)) {
      await removeAll(file, rotated, (i) => i >= keepFiles);
      const shifted = rotated.filter((f) => f.index < keepFiles).sort((a, b) => b.index - a.index);
      for (const f of shifted)
        await renameIfThere(nameOf(file, f.index, f.gz), nameOf(file, f.index + 1, f.gz));
    } else {
      // Limits lowered: files beyond the count go even when there is nothing to shift.
      await removeAll(file, rotated, (i) => i > keepFiles);
    }
    await fsp.rename(file, nameOf(file, 1, false));
    try {
      await fsp.rename(next, file);
    } catch (e) {
      // Put the current file back under its name: it goes on growing, rotation is retried.
      await fsp.rename(nameOf(file, 1, false), file);
      throw e;
    }
  } catch (e) {
    closeQuietly(fd);
    await fsp.rm(next, { force: true });
    throw e;
  }
  return fd;
}

/**
 * Gzip every plain rotated file but the newest (`.2` on), one at a time, newest first, off
 * the event loop (zlib and the file streams run on the thread pool). Each goes to
 * `.N.gz.partial`, which is fsynced and renamed `.N.gz` (the directory fsynced too) before the
 * plain file is removed: a crash leaves the plain file, or it and a whole `.N.gz`. What a crash
 * left is settled first: a `.partial` is removed (its plain file is still there), a plain file
 * beside its `.gz` too. Before each file `giveWay` is asked, and `signal` aborts the gzip under
 * way (its `.partial` removed, the plain file kept): then it returns false, the rest not done.
 */
export async function compressRotated(
  file: string,
  opts: { signal?: AbortSignal; giveWay?: () => boolean } = {},
): Promise<boolean> {
  const dir = path.dirname(file);
  const names = await fsp.readdir(dir);
  const partial = new RegExp(`^${escapeRegExp(path.basename(file))}\\.\\d+\\.gz\\.partial$`);
  for (const name of names.filter((n) => partial.test(n)))
    await fsp.rm(path.join(dir, name), { force: true });
  const rotated = matching(file, names);
  const gzipped = new Set(rotated.filter((f) => f.gz).map((f) => f.index));
  const plain = rotated.filter((f) => !f.gz && f.index >= 2).sort((a, b) => a.index - b.index);
  for (const f of plain) {
    if (opts.giveWay?.() || opts.signal?.aborted) return false;
    const name = nameOf(file, f.index, false);
    if (!gzipped.has(f.index)) {
      try {
        await gzip(name, nameOf(file, f.index, true), opts.signal);
      } catch (e) {
        if (opts.signal?.aborted) return false;
        throw e;
      }
    }
    await fsp.rm(name, { force: true });
  }
  return true;
}

async function gzip(plain: string, gz: string, signal?: AbortSignal): Promise<void> {
  const partial = gz + PARTIAL;
  try {
    await pipeline(
      createReadStream(plain),
      createGzip(),
      createWriteStream(partial),
      signal ? { signal } : {},
    );
    await renameDurably(partial, gz);
  } catch (e) {
    await fsp.rm(partial, { force: true });
    throw e;
  }
}

interface Rotated {
  name: string;
  index: number;
  gz: boolean;
}

/** The rotated files of `file` there are now (`.1`, `.2.gz` …), whatever the limits were. */
async function rotatedFiles(file: string): Promise<Rotated[]> {
  return matching(file, await fsp.readdir(path.dirname(file)));
}

function matching(file: string, names: string[]): Rotated[] {
  const pattern = new RegExp(`^${escapeRegExp(path.basename(file))}\\.(\\d+)(\\.gz)?$`);
  const found: Rotated[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (m) found.push({ name, index: Number(m[1]), gz: m[2] !== undefined });
  }
  return found;
}

/**
 * Remove the rotated files whose index `beyond` picks, one after the other: thousands of
 * removals asked for at once keep the event loop busy with their completions until the last.
 * One removed by hand since the listing is passed over (ENOENT), as in `renameIfThere`.
 */
async function removeAll(file: string, rotated: Rotated[], beyond: (index: number) => boolean) {
  for (const f of rotated.filter((f) => beyond(f.index)))
    await fsp.unlink(path.join(path.dirname(file), f.name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
}

/** A file removed by hand since the listing is not a failed rotation. */
async function renameIfThere(from: string, to: string): Promise<void> {
  try {
    await fsp.rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

const nameOf = (file: string, i: number, gz: boolean) => `${file}.${i}${gz ? '.gz' : ''}`;

/** Give up a descriptor without waiting (nothing reads or writes it any more). */
export function closeQuietly(fd: number): void {
  close(fd, () => undefined);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
