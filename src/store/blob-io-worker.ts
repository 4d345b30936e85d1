/**
 * The blob thread (see blob-io.ts). Blobs are fetched from a peer and written (blob-fetch.ts),
 * or read, with plain synchronous calls here — open, read or write, close — instead of a
 * thread-pool round trip per call on the appliance's event loop; a commit makes written blobs
 * durable while later blobs keep being written.
 */
import { execFile } from 'node:child_process';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { fetchBlobs } from './blob-fetch.js';
import type { BlobIoReply, BlobIoRequest } from './blob-io.js';

const { root } = workerData as { root: string };
const execFileAsync = promisify(execFile);
/** Blob directories known to exist. */
const made = new Set<string>();
let written = 0;

function reply(r: BlobIoReply, transfer: ArrayBuffer[] = []) {
  parentPort!.postMessage(r, transfer);
}

const tmpFile = () =>
  path.join(root, 'tmp', `w${process.pid}-${Date.now().toString(36)}-${written++}`);

/** A syncfs of the blob store's file system covers many files at once; few are fsynced each. */
const SYNCFS_FROM = 64;

async function syncFiles(files: string[]): Promise<void> {
  if (files.length > SYNCFS_FROM)
    try {
      await execFileAsync('sync', ['-f', root]);
      return;
    } catch {
      // No `sync -f` here: fsync one by one below.
    }
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** Durable in tmp/, then renamed into place, then the renames durable. */
async function commit(blobs: { tmp: string; sha256: string }[]): Promise<void> {
  await syncFiles(blobs.map((b) => b.tmp));
  const dirs = new Set<string>([path.join(root, 'sha256')]);
  for (const b of blobs) {
    const dir = path.join(root, 'sha256', b.sha256.slice(0, 2));
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    dirs.add(dir);
    renameSync(b.tmp, path.join(dir, b.sha256));
  }
  await syncFiles([...dirs]);
}

const blobPath = (sha256: string) => path.join(root, 'sha256', sha256.slice(0, 2), sha256);

function sizes(shas: string[]): (number | null)[] {
  return shas.map((sha) => statSync(blobPath(sha), { throwIfNoEntry: false })?.size ?? null);
}

function read(blobs: { sha256: string; size: number }[], headroom: number): Uint8Array[] {
  return blobs.map(({ sha256, size }) => {
    const out = new Uint8Array(headroom + size);
    const fd = openSync(blobPath(sha256), 'r');
    try {
      let at = 0;
      while (at < size) {
        const n = readSync(fd, out, headroom + at, size - at, at);
        if (n === 0) break;
        at += n;
      }
      // Blobs are immutable: a different size means it was removed and the answer is void.
      if (at !== size) throw new Error(`blob ${sha256} changed size while being sent`);
    } finally {
      closeSync(fd);
    }
    return out;
  });
}

const failure = (e: unknown) => ({
  message: e instanceof Error ? e.message : String(e),
  code: (e as NodeJS.ErrnoException).code,
});

parentPort!.on('message', (m: BlobIoRequest) => {
  if (m.op === 'commit') {
    commit(m.blobs).then(
      () => reply({ id: m.id }),
      (e: unknown) => reply({ id: m.id, error: failure(e) }),
    );
    return;
  }
  if (m.op === 'fetch') {
    fetchBlobs(
      m.fetch,
      m.shas,
      tmpFile,
      (blobs) => reply({ id: m.id, blobs, more: true }),
      (outcome) => reply({ id: m.id, ...outcome }),
    );
    return;
  }
  try {
    if (m.op === 'sizes') reply({ id: m.id, sizes: sizes(m.shas) });
    else {
      const buffers = read(m.blobs, m.headroom);
      reply(
        { id: m.id, buffers },
        buffers.map((b) => b.buffer as ArrayBuffer),
      );
    }
  } catch (e) {
    reply({ id: m.id, error: failure(e) });
  }
});
