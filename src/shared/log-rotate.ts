import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
} from 'node:fs';
import path from 'node:path';

/** The next file's name while a rotation opens it (`appliance.log.opening`). */
export const OPENING = '.opening';

/**
 * Rotate `file`'s rotated files and return the descriptor of its fresh, empty file. The next
 * file is opened first, under a temporary name: if that fails (disk full, too many open files)
 * nothing has moved. Then the oldest kept files go, the others shift up, the current file
 * becomes `.1` and the new one takes its name. If a rename fails, the next file is closed and
 * removed; the older files are shifted only when `.1` is free, so a rotation failing again and
 * again does not remove one more old file each time.
 */
export function rotateFiles(file: string, keepFiles: number): number {
  const next = file + OPENING;
  const fd = openSync(next, 'w');
  try {
    if (existsSync(numbered(file, 1))) {
      for (const { name, index } of rotatedFiles(file)) {
        if (index >= keepFiles) unlinkSync(path.join(path.dirname(file), name));
      }
      for (let i = keepFiles - 1; i >= 1; i--)
        renameIfThere(numbered(file, i), numbered(file, i + 1));
    } else {
      // Limits lowered: files beyond the count go even when there is nothing to shift.
      for (const { name, index } of rotatedFiles(file)) {
        if (index > keepFiles) unlinkSync(path.join(path.dirname(file), name));
      }
    }
    renameSync(file, numbered(file, 1));
    try {
      renameSync(next, file);
    } catch (e) {
      // Put the current file back under its name: it goes on growing, rotation is retried.
      renameSync(numbered(file, 1), file);
      throw e;
    }
  } catch (e) {
    closeQuietly(fd);
    rmSync(next, { force: true });
    throw e;
  }
  return fd;
}

/** The rotated files of `file` there are now (`.1`, `.2.gz` …), whatever the limits were. */
function rotatedFiles(file: string): { name: string; index: number }[] {
  const pattern = new RegExp(`^${escapeRegExp(path.basename(file))}\\.(\\d+)(\\.gz)?$`);
  const found: { name: string; index: number }[] = [];
  for (const name of readdirSync(path.dirname(file))) {
    const m = pattern.exec(name);
    if (m) found.push({ name, index: Number(m[1]) });
  }
  return found;
}

const numbered = (file: string, i: number) => `${file}.${i}`;

function renameIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
