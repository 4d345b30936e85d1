/**
 * The anchor of the relay benchmark, the floor of its design: a bare Node TLS server (the
 * appliance's key and certificate) that pipes two connections it accepts into each other, as a
 * relay of sessions with nothing else (no HTTP, no framing, no recording, no records). Node
 * built-ins only.
 *
 * Connections pair by the name they ask for (TLS SNI): `console.<target>` with `jump.<target>`
 * (the bare Jump Client of bench/relay-anchor-jump.ts, which is told it was paired by one byte,
 * then dials the target), and connections without a name with each other (idle pairs held by
 * the benchmark itself).
 *
 * With ANCHOR_RECORD_DIR set it is the second anchor, the floor of this design with recording:
 * the same pipe that also records what it relays in the cheapest way Node allows (see
 * `recordedPipe`), so that what recording costs at all can be told from what Gatehouse's way of
 * recording adds.
 *
 * Environment: ANCHOR_LISTEN (host:port), ANCHOR_TLS_KEY and ANCHOR_TLS_CERT (PEM files),
 * ANCHOR_RECORD_DIR (optional: record each pair into a file there; the file is removed once
 * durable), ANCHOR_RECORD_BATCH and ANCHOR_RECORD_HIGH_WATER (bytes, 1 MiB and 4 MiB),
 * ANCHOR_RECORD_PARTS (`hash,write`, the default; `hash` or `write` alone to tell their costs
 * apart).
 */
import { createHash } from 'node:crypto';
import { close, fsync, open, readFileSync, unlink, writev } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** What a bare Jump Client's leg reads once it has a console on the other end. */
const PAIRED = 0x47;

const listen = required('ANCHOR_LISTEN');
const colon = listen.lastIndexOf(':');
/** Connections waiting for a partner, by the name they asked for. */
const waiting = new Map<string, tls.TLSSocket[]>();

const partnerOf = (name: string) =>
  name.startsWith('console.')
    ? `jump.${name.slice(8)}`
    : name.startsWith('jump.')
      ? `console.${name.slice(5)}`
      : name;

function pair(socket: tls.TLSSocket): void {
  const name = typeof socket.servername === 'string' ? socket.servername : '';
  const queue = waiting.get(partnerOf(name)) ?? [];
  let other = queue.shift();
  while (other?.destroyed) other = queue.shift();
  if (!other) {
    waiting.set(name, [...(waiting.get(name) ?? []), socket]);
    return;
  }
  const jumpSide = name.startsWith('jump.') ? socket : other.servername ? other : undefined;
  jumpSide?.write(Buffer.of(PAIRED));
  socket.on('close', () => other.destroy());
  other.on('close', () => socket.destroy());
  if (RECORD_DIR && name) recordedPipe(socket, other, path.join(RECORD_DIR, `${++recordings}`));
  else socket.pipe(other).pipe(socket);
}

const RECORD_DIR = process.env.ANCHOR_RECORD_DIR;
const BATCH = Number(process.env.ANCHOR_RECORD_BATCH ?? 1024 * 1024);
const HIGH_WATER = Number(process.env.ANCHOR_RECORD_HIGH_WATER ?? 4 * 1024 * 1024);
const PARTS = (process.env.ANCHOR_RECORD_PARTS ?? 'hash,write').split(',');
const HASH = PARTS.includes('hash');
const WRITE = PARTS.includes('write');
let recordings = 0;

/**
 * Pipe two connections into each other and record both directions into one file: each chunk
 * hashed (SHA-256, in file order) and queued as it is, handed to the kernel in one `writev`
 * per BATCH bytes (one write at a time, on the thread pool), a source paused while HIGH_WATER
 * bytes wait for the disk; at the end the rest written, fsync, close, and the file removed. No
 * framing, no timestamps, no copy of the bytes in JavaScript.
 */
function recordedPipe(a: tls.TLSSocket, b: tls.TLSSocket, file: string): void {
  const hash = createHash('sha256');
  let fd: number | undefined;
  let queue: Buffer[] = [];
  let queued = 0;
  let unwritten = 0;
  let writing = false;
  let closed = 0;
  // A source is held back by the disk queue (HIGH_WATER bytes unwritten) or by its destination
  // (its write returned false, one 'drain' listener awaited); it resumes when neither holds it.
  const diskHeld = new Set<tls.TLSSocket>();
  const dstHeld = new Set<tls.TLSSocket>();
  const resumeIfFree = (s: tls.TLSSocket) => {
    if (!diskHeld.has(s) && !dstHeld.has(s) && !s.destroyed) s.resume();
  };
  const flush = () => {
    if (writing || fd === undefined || queue.length === 0) return done();
    const batch = queue.length > 1024 ? queue.splice(0, 1024) : queue;
    if (batch === queue) queue = [];
    for (const c of batch) queued -= c.length;
    writing = true;
    writev(fd, batch, (e, n) => {
      if (e) throw e;
      writing = false;
      unwritten -= n;
      if (n < batch.reduce((s, c) => s + c.length, 0)) throw new Error('short write');
      if (unwritten < HIGH_WATER) {
        const held = [...diskHeld];
        diskHeld.clear();
        for (const s of held) resumeIfFree(s);
      }
      if (queued >= BATCH || closed === 2) flush();
    });
  };
  const done = () => {
    if (closed < 2 || writing || queue.length > 0 || fd === undefined) return;
    const f = fd;
    fd = undefined;
    hash.digest();
    fsync(f, () => close(f, () => unlink(file, () => undefined)));
  };
  open(file, 'wx', 0o600, (e, opened) => {
    if (e) throw e;
    fd = opened;
    flush();
  });
  const pump = (src: tls.TLSSocket, dst: tls.TLSSocket) => {
    src.on('data', (chunk: Buffer) => {
      if (HASH) hash.update(chunk);
      if (WRITE) {
        queue.push(chunk);
        queued += chunk.length;
        unwritten += chunk.length;
        if (queued >= BATCH) flush();
        if (unwritten >= HIGH_WATER) diskHeld.add(src);
      }
      if (!dst.write(chunk) && !dstHeld.has(src)) {
        dstHeld.add(src);
        dst.once('drain', () => {
          dstHeld.delete(src);
          resumeIfFree(src);
        });
      }
      if (diskHeld.has(src) || dstHeld.has(src)) src.pause();
    });
    src.on('end', () => dst.end());
    src.on('close', () => {
      if (++closed === 2) flush();
    });
  };
  pump(a, b);
  pump(b, a);
}

const server = tls.createServer(
  {
    key: readFileSync(required('ANCHOR_TLS_KEY')),
    cert: readFileSync(required('ANCHOR_TLS_CERT')),
    minVersion: 'TLSv1.2',
  },
  (socket) => {
    socket.on('error', () => socket.destroy());
    pair(socket);
  },
);
server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon), () =>
  process.stdout.write('listening\n'),
);
process.on('SIGTERM', () => process.exit(0));
