/**
 * A peer's bulk answer of blobs, fetched on the blob thread (see blob-io-worker.ts): one TLS
 * connection pinned to the peer's certificate, read into one buffer of the thread's own; each
 * blob is hashed as it arrives and written to tmp/ from a buffer also kept. Nothing is copied
 * into fresh memory per read or per blob, and no byte crosses to the appliance's event loop,
 * which only learns which blobs were written.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import type { OnReadOpts } from 'node:net';
import tls from 'node:tls';
import { HttpResponseError, ResponseDecoder } from '../shared/http1.js';
import type { TmpBlob } from './blob-types.js';
import { FrameDecoder, FrameError } from './blob-stream.js';

/** Where a bulk answer comes from: the peer, the certificate it must present, the request. */
export interface BlobFetch {
  host: string;
  port: number;
  /** SHA-256 fingerprint (as `fingerprint256`) of the certificate the peer must present. */
  fingerprint: string;
  /** The whole request to send (a signed GET), head and all. */
  request: string;
  /** How long the TCP connection and TLS handshake may take (10 s when not given). */
  connectTimeoutMs?: number;
}

/** Why a fetch failed, for the caller to word (it knows the peer). */
export type FetchFailure =
  | { kind: 'unreachable'; code: string }
  | { kind: 'certificate'; presented: string }
  | { kind: 'refused'; status: number; body: string }
  | { kind: 'stream'; why: string }
  | { kind: 'mismatch'; expected: string; actual: string };

/** With no byte from the peer for this long once connected, the fetch fails. */
const IDLE_MS = 60_000;
const CONNECT_MS = 10_000;
/** An error answer's body is kept up to this size (it is a problem document). */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * Where every connection of the thread reads its decrypted bytes: each read is consumed
 * (hashed and gathered or written) before the next one is made, so one buffer serves them all.
 */
const readBuffer = Buffer.allocUnsafe(256 * 1024);
/**
 * A blob's bytes arrive a TLS record (16 KiB) at a time; they are gathered and written once per
 * blob, or per this many bytes of a larger one (a write per record cost more than the copy).
 * Gather buffers are kept for the next fetch.
 */
const GATHER_BYTES = 1024 * 1024;
const gatherBuffers: Buffer[] = [];

class Failed extends Error {
  constructor(readonly failure: FetchFailure) {
    super(failure.kind);
  }
}

const stream = (why: string) => new Failed({ kind: 'stream', why });

/** Written blobs are reported once this many bytes of them wait (and at the end). */
const REPORT_BYTES = 16 * 1024 * 1024;

/**
 * Fetch the blobs `shas` (in that order) as `fetch` asks for them: each one written to a file
 * `tmpFile()` names and checked against its digest, and reported to `progress` a few at a time
 * (every `REPORT_BYTES`); then `done` with the rest, or with the failure (the files of the
 * blobs not yet reported removed; those reported are the caller's).
 */
export function fetchBlobs(
  fetch: BlobFetch,
  shas: string[],
  tmpFile: () => string,
  progress: (blobs: TmpBlob[]) => void,
  done: (outcome: { blobs: TmpBlob[] } | { failure: FetchFailure }) => void,
): void {
  /** How many blobs were written, and those not yet reported (with their bytes). */
  let count = 0;
  let unreported: TmpBlob[] = [];
  let unreportedBytes = 0;
  const gather = gatherBuffers.pop() ?? Buffer.allocUnsafe(GATHER_BYTES);
  let blob:
    | { sha256: string; size: number; tmp: string; fd?: number; hash: Hash; gathered: number }
    | undefined;
  let refused: { status: number; body: Buffer[]; bytes: number } | undefined;
  let finished = false;
  /** The TLS handshake is done and the certificate the pinned one. */
  let connected = false;

  const finish = (failure?: FetchFailure) => {
    if (finished) return;
    finished = true;
    socket.destroy();
    gatherBuffers.push(gather);
    if (!failure) return done({ blobs: unreported });
    try {
      if (blob?.fd !== undefined) closeSync(blob.fd);
      for (const b of blob ? [...unreported, blob] : unreported) rmSync(b.tmp, { force: true });
    } catch {
      // What is left in tmp/ is removed by the store's next start.
    }
    done({ failure });
  };

  /** Write the gathered bytes of the current blob to its file (created on the first write). */
  const writeGathered = () => {
    const b = blob!;
    b.fd ??= openSync(b.tmp, 'wx', 0o600);
    for (let at = 0; at < b.gathered;) at += writeSync(b.fd, gather, at, b.gathered - at);
    b.gathered = 0;
  };

  const frames = new FrameDecoder({
    start(sha256, size) {
      if (sha256 !== shas[count])
        throw stream(
          count < shas.length
            ? `blob ${sha256.slice(0, 12)}… arrived where ${shas[count]!.slice(0, 12)}… was expected`
            : 'it sent more blobs than were asked',
        );
      blob = { sha256, size, tmp: tmpFile(), hash: createHash('sha256'), gathered: 0 };
    },
    data(part) {
      const b = blob!;
      b.hash.update(part);
      for (let at = 0; at < part.length;) {
        const n = part.copy(gather, b.gathered, at);
        b.gathered += n;
        at += n;
        if (b.gathered === GATHER_BYTES) writeGathered();
      }
    },
    end() {
      const b = blob!;
      writeGathered();
      closeSync(b.fd!);
      b.fd = undefined;
      const actual = b.hash.digest('hex');
      if (actual !== b.sha256) throw new Failed({ kind: 'mismatch', expected: b.sha256, actual });
      blob = undefined;
      count++;
      unreported.push({ sha256: b.sha256, size: b.size, tmp: b.tmp });
      unreportedBytes += b.size;
      if (unreportedBytes >= REPORT_BYTES) {
        progress(unreported);
        unreported = [];
        unreportedBytes = 0;
      }
    },
  });

  const response = new ResponseDecoder({
    head(status) {
      if (status >= 400) refused = { status, body: [], bytes: 0 };
      else if (status !== 200) throw stream(`it answered HTTP ${status}`);
    },
    body(part) {
      if (!refused) return frames.push(part);
      if (refused.bytes + part.length > MAX_ERROR_BODY) return;
      refused.body.push(Buffer.from(part));
      refused.bytes += part.length;
    },
    end() {
      if (refused)
        throw new Failed({
          kind: 'refused',
          status: refused.status,
          body: Buffer.concat(refused.body).toString('utf8'),
        });
      if (count < shas.length || !frames.between)
        throw stream(`the answer ended after ${count} of ${shas.length} blobs`);
      finish();
    },
  });

  /** Runs a step of the answer; a failure in it ends the fetch. */
  const step = (run: () => void) => {
    if (finished) return;
    try {
      run();
    } catch (e) {
      if (e instanceof Failed) finish(e.failure);
      else if (e instanceof HttpResponseError || e instanceof FrameError)
        finish({ kind: 'stream', why: e.message });
      else finish({ kind: 'stream', why: `writing a blob failed: ${(e as Error).message}` });
    }
  };

  const wanted = fetch.fingerprint.toUpperCase();
  // `onread` is documented for tls.connect, though missing from its type.
  const options: tls.ConnectionOptions & { onread: OnReadOpts } = {
    host: fetch.host,
    port: fetch.port,
    // Trust is the pinned fingerprint, checked below; no session is resumed (none is given).
    rejectUnauthorized: false,
    onread: {
      buffer: readBuffer,
      callback: (n: number, buf: Uint8Array) => {
        step(() => response.push(Buffer.from(buf.buffer, buf.byteOffset, n)));
        return !finished;
      },
    },
  };
  const socket = tls.connect(options);
  socket.setTimeout(fetch.connectTimeoutMs ?? CONNECT_MS, () =>
    finish(
      connected
        ? { kind: 'stream', why: `it sent nothing for ${IDLE_MS / 1000} s` }
        : { kind: 'unreachable', code: 'ETIMEDOUT' },
    ),
  );
  socket.once('secureConnect', () => {
    const presented = socket.getPeerCertificate().fingerprint256;
    if (presented?.toUpperCase() !== wanted)
      return finish({ kind: 'certificate', presented: presented ?? '(none)' });
    connected = true;
    socket.setTimeout(IDLE_MS);
    socket.write(fetch.request);
  });
  socket.once('end', () => step(() => response.end()));
  socket.once('close', () =>
    finish({ kind: 'stream', why: 'the connection closed in the middle of the answer' }),
  );
  socket.once('error', (e: NodeJS.ErrnoException) =>
    finish(
      connected
        ? { kind: 'stream', why: e.code ?? e.message }
        : { kind: 'unreachable', code: e.code ?? e.message },
    ),
  );
}
