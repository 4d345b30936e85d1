/**
 * The blob writer's thread (see blob-writer.ts). Each small blob is hashed and written with
 * plain synchronous calls here — open, write, close — instead of a thread-pool round trip per
 * call on the appliance's event loop; a commit makes written blobs durable while later blobs
 * keep being written.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import type { WriterReply, WriterRequest } from './blob-writer.js';

const root = (workerData as { root: string }).root;
const execFileAsync = promisify(execFile);
/** Blob directories known to exist. */
const made = new Set<string>();
let written = 0;

function reply(r: WriterReply) {
  parentPort!.postMessage(r);
}

function write(id: number, bytes: Uint8Array, expected: string | undefined) {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (expected !== undefined && expected !== sha256) {
    reply({ id, mismatch: sha256 });
    return;
  }
  const tmp = path.join(root, 'tmp', `w${process.pid}-${Date.now().toString(36)}-${written++}`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  reply({ id, sha256, size: bytes.length, tmp });
}

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

const failure = (e: unknown) => ({
  message: e instanceof Error ? e.message : String(e),
  code: (e as NodeJS.ErrnoException).code,
});

parentPort!.on('message', (m: WriterRequest) => {
  if (m.op === 'write') {
    try {
      write(m.id, m.bytes, m.expectedSha256);
    } catch (e) {
      reply({ id: m.id, error: failure(e) });
    }
    return;
  }
  commit(m.blobs).then(
    () => reply({ id: m.id }),
    (e: unknown) => reply({ id: m.id, error: failure(e) }),
  );
});
