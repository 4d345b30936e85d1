/**
 * The blob thread (see blob-io.ts). Blobs are fetched from a peer and written (blob-fetch.ts),
 * or read, with plain synchronous calls here — open, read or write, close — instead of a
 * thread-pool round trip per call on the appliance's event loop; a commit makes written blobs
 * durable while later blobs keep being written.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { fsyncPathSync } from '../shared/fs.js';
import { fetchBlobs } from './blob-fetch.js';
import { FRAMES_SLOT_BYTES, type BlobIoReply, type BlobIoRequest } from './blob-io.js';
import { FRAME_HEADER, writeFrameHeader } from './blob-stream.js';

const { root, slots } = workerData as { root: string; slots: SharedArrayBuffer };
/** Blob directories known to exist. */
const made = new Set<string>();
let written = 0;

function reply(r: BlobIoReply, transfer: ArrayBuffer[] = []) {
  parentPort!.postMessage(r, transfer);
}

/** A new file in tmp/, named apart from those of the process's other blob threads. */
const tmpFile = () =>
  path.join(root, 'tmp', `w${process.pid}.${threadId}-${Date.now().toString(36)}-${written++}`);

/** A syncfs of the blob store's file system covers many files at once; few are fsynced each. */
const SYNCFS_FROM = 64;

/**
 * `sync -f` of the blob store's file system, run by a shell started once and asked a line at a
 * time: spawning it from the appliance process copied the process's page tables each time
 * (about 35 ms of CPU on a virtual machine, two per flush). The shell ends when this thread
 * does (its input closes). Resolves false where `sync -f` fails or there is no shell.
 */
class FileSystemSync {
  /** The shell, and the requests it has not answered yet (each shell answers only its own). */
  private current:
    | { shell: ChildProcessByStdio<Writable, Readable, null>; answers: ((ok: boolean) => void)[] }
    | undefined;

  run(): Promise<boolean> {
    const current = this.start();
    return new Promise((resolve) => {
      current.answers.push(resolve);
      current.shell.stdin.write('\n');
    });
  }

  private start() {
    if (this.current) return this.current;
    const shell = spawn(
      'sh',
      ['-c', 'while read -r _; do if sync -f "$0"; then echo ok; else echo failed; fi; done', root],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    const current = { shell, answers: [] as ((ok: boolean) => void)[] };
    let pending = '';
    shell.stdout.setEncoding('utf8').on('data', (d: string) => {
      const lines = (pending + d).split('\n');
      pending = lines.pop()!;
      for (const line of lines) current.answers.shift()?.(line === 'ok');
    });
    // Once gone, what it did not answer fails (and is fsynced file by file instead).
    const gone = () => {
      if (this.current === current) this.current = undefined;
      for (const answer of current.answers.splice(0)) answer(false);
    };
    shell.on('error', gone);
    shell.on('close', gone);
    shell.stdin.on('error', gone);
    this.current = current;
    return current;
  }
}

const fileSystemSync = new FileSystemSync();

async function syncFiles(files: string[]): Promise<void> {
  if (files.length > SYNCFS_FROM && (await fileSystemSync.run())) return;
  // Few files, or no `sync -f` here: an fsync each.
  for (const f of files) fsyncPathSync(f);
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

/**
 * The frames (see blob-stream.ts) of `blobs`, read whole into `into` one after another; a blob
 * whose size is not the one given (it was removed meanwhile) fails the call.
 */
function readFrames(blobs: { sha256: string; size: number }[], into: Uint8Array): number {
  const frames = Buffer.from(into.buffer, into.byteOffset, into.byteLength);
  let at = 0;
  for (const { sha256, size } of blobs) {
    writeFrameHeader(frames.subarray(at, at + FRAME_HEADER), sha256, size);
    at += FRAME_HEADER;
    const fd = openSync(blobPath(sha256), 'r');
    try {
      let got = 0;
      while (got < size) {
        const n = readSync(fd, frames, at + got, size - got, got);
        if (n === 0) break;
        got += n;
      }
      // Blobs are immutable: a different size means it was removed and the answer is void.
      if (got !== size) throw new Error(`blob ${sha256} changed size while being sent`);
    } finally {
      closeSync(fd);
    }
    at += size;
  }
  return at;
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
    try {
      fetchBlobs(
        m.fetch,
        m.shas,
        tmpFile,
        (blobs) => reply({ id: m.id, blobs, more: true }),
        (outcome) => reply({ id: m.id, ...outcome }),
      );
    } catch (e) {
      const { code, message } = failure(e);
      reply({ id: m.id, failure: { kind: 'unreachable', code: code ?? message } });
    }
    return;
  }
  try {
    if (m.op === 'sizes') reply({ id: m.id, sizes: sizes(m.shas) });
    else if (m.slot !== null) {
      const slot = new Uint8Array(slots, m.slot * FRAMES_SLOT_BYTES, FRAMES_SLOT_BYTES);
      reply({ id: m.id, length: readFrames(m.blobs, slot) });
    } else {
      const frames = new Uint8Array(m.blobs.reduce((n, b) => n + FRAME_HEADER + b.size, 0));
      readFrames(m.blobs, frames);
      reply({ id: m.id, frames }, [frames.buffer]);
    }
  } catch (e) {
    reply({ id: m.id, error: failure(e) });
  }
});
