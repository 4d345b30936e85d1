import {
  promises as fsp,
  openSync,
  fsyncSync,
  closeSync,
  writeFileSync,
  renameSync,
} from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * fsync a file or a directory by its path, through a read-only descriptor (enough on Linux, where
 * the appliance runs): what was written to the file, or a rename or create inside the directory,
 * survives a crash.
 */
export async function fsyncPath(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function fsyncPathSync(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Put a fully written temporary file in place: fsync it, rename it to `dest` and fsync the
 * directory, so that a crash leaves the old `dest` or the whole new one.
 */
export async function renameDurably(tmp: string, dest: string): Promise<void> {
  await fsyncPath(tmp);
  await fsp.rename(tmp, dest);
  await fsyncPath(path.dirname(dest));
}

/** Write a file so that a crash leaves the old content or the new, never a mix. */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  await fsyncPath(path.dirname(file));
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode });
  fsyncPathSync(tmp);
  renameSync(tmp, file);
  fsyncPathSync(path.dirname(file));
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
