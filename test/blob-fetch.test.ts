import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFingerprint, generateSelfSignedCertificate } from '../src/shared/tls.js';
import { FRAME_HEADER, writeFrameHeader } from '../src/store/blob-stream.js';

// The blob store's thread runs compiled code (dist/, built before the tests), as in the appliance.
const dist = (p: string) => fileURLToPath(new URL(`../dist/src/store/${p}`, import.meta.url));
const { BlobBatch, BlobStore } = (await import(
  dist('blobs.js')
)) as typeof import('../src/store/blobs.js');
const { BlobFetchError } = (await import(
  dist('blob-io.js')
)) as typeof import('../src/store/blob-io.js');

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const frame = (b: Buffer, as = sha(b)) =>
  Buffer.concat([writeFrameHeader(Buffer.alloc(FRAME_HEADER), as, b.length), b]);

/**
 * A peer that answers each connection with what `answer` writes for the request it read: a
 * stand-in for a primary, to send what a real one would not (tampered, cut, out of order).
 */
type Answer = (socket: tls.TLSSocket, request: string) => void;
let answer: Answer = () => undefined;
let server: tls.Server;
let port = 0;
let fingerprint = '';
const requests: string[] = [];

const root = mkdtempSync(path.join(os.tmpdir(), 'gh-blob-fetch-'));
const store = new BlobStore(path.join(root, 'store'));
const tmpFiles = () => readdirSync(path.join(root, 'store', 'tmp'));

beforeAll(async () => {
  const { keyPem, certPem } = await generateSelfSignedCertificate({
    commonName: 'peer',
    dnsNames: [],
    ipAddresses: ['127.0.0.1'],
  });
  fingerprint = certificateFingerprint(certPem);
  server = tls.createServer({ key: keyPem, cert: certPem }, (socket) => {
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      requests.push(head);
      answer(socket, head);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  await store.init();
});
afterAll(async () => {
  await store.close();
  await new Promise((r) => server.close(r));
  rmSync(root, { recursive: true, force: true });
});

const request =
  'GET /api/peer/sync/blobs?sha256=x HTTP/1.1\r\nHost: peer\r\nConnection: close\r\n\r\n';
/** The batch's unflushed blobs each time it was told of written ones. */
let told: number[] = [];
const fetchInto = (batch: InstanceType<typeof BlobBatch>, shas: string[], pin = fingerprint) => {
  told = [];
  return batch.fetch({ host: '127.0.0.1', port, fingerprint: pin, request }, shas, () =>
    told.push(batch.unflushedCount),
  );
};

/** Answer with `body` under a Content-Length, written in pieces of `piece` bytes. */
const withLength =
  (body: Buffer, piece = body.length): Answer =>
  (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    for (let at = 0; at < body.length; at += piece) socket.write(body.subarray(at, at + piece));
    socket.end();
  };

const failureOf = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(e).toBeInstanceOf(BlobFetchError);
  return (e as InstanceType<typeof BlobFetchError>).failure;
};

describe('fetching a bulk answer of blobs on the blob thread', () => {
  it('writes each blob whole under its digest once flushed, from a Content-Length or a chunked answer', async () => {
    // Sizes around the 1 MiB gather buffer, and an empty blob.
    const blobs = [
      randomBytes(100 * 1024),
      Buffer.alloc(0),
      randomBytes(1024 * 1024),
      randomBytes(2.5 * 1024 * 1024 + 3),
      randomBytes(17),
    ];
    const batch = new BlobBatch(store);
    answer = withLength(Buffer.concat(blobs.map((b) => frame(b))), 7_000);
    await fetchInto(batch, blobs.map(sha));
    expect(requests.at(-1)).toBe(request);
    expect(told).toEqual([5]);

    // An older primary answers in chunks; two blobs already fetched travel again.
    const more = [randomBytes(300_000), blobs[0]!, blobs[4]!];
    const body = Buffer.concat(more.map((b) => frame(b)));
    answer = (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let at = 0; at < body.length; at += 65_536) {
        const piece = body.subarray(at, at + 65_536);
        socket.write(`${piece.length.toString(16)}\r\n`);
        socket.write(piece);
        socket.write('\r\n');
      }
      socket.end('0\r\n\r\n');
    };
    await fetchInto(batch, more.map(sha));
    const flushed = await batch.flush();
    expect(flushed.map((b) => b.sha256)).toEqual([...blobs, ...more].map(sha));
    for (const b of [...blobs, ...more]) {
      // (equals(), not toEqual: a deep comparison of megabytes byte by byte takes long.)
      expect(readFileSync(store.pathOf(sha(b))).equals(b)).toBe(true);
      store.release(sha(b));
    }
    expect(tmpFiles()).toEqual([]);
  });

  it('tells of written blobs while a long answer still arrives, every 16 MiB, and flushes many with one file-system sync', async () => {
    const blobs = Array.from({ length: 80 }, () => randomBytes(512 * 1024));
    const batch = new BlobBatch(store);
    answer = withLength(Buffer.concat(blobs.map((b) => frame(b))), 256 * 1024);
    await fetchInto(batch, blobs.map(sha));
    expect(told).toEqual([32, 64, 80]);
    // More than 64 files: made durable by `sync -f` of the file system, from the resident shell.
    expect(await batch.flush()).toHaveLength(80);
    for (const b of blobs) {
      expect(readFileSync(store.pathOf(sha(b))).equals(b)).toBe(true);
      store.release(sha(b));
    }
    expect(tmpFiles()).toEqual([]);
  });

  it('refuses a blob whose bytes do not match its digest, keeping nothing of the answer', async () => {
    const good = randomBytes(50_000);
    const bad = randomBytes(50_000);
    const claimed = sha(randomBytes(10));
    const batch = new BlobBatch(store);
    answer = withLength(Buffer.concat([frame(good), frame(bad, claimed)]), 4096);
    await expect(fetchInto(batch, [sha(good), claimed])).rejects.toMatchObject({
      code: 'BLOB_DIGEST_MISMATCH',
    });
    expect(batch.unflushedCount).toBe(0);
    expect(tmpFiles()).toEqual([]);
  });

  it('says truncated when the peer stops inside a blob or sends fewer, or others, than asked', async () => {
    const blobs = [randomBytes(200_000), randomBytes(200_000)];
    const wire = Buffer.concat(blobs.map((b) => frame(b)));
    const batch = new BlobBatch(store);

    // Cut inside the second blob: the length promised more.
    answer = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${wire.length}\r\n\r\n`);
      socket.end(wire.subarray(0, wire.length - 1000));
    };
    expect(await failureOf(fetchInto(batch, blobs.map(sha)))).toMatchObject({
      kind: 'stream',
      why: 'the connection closed in the middle of the answer',
    });

    // Whole frames, but only one of the two asked.
    answer = withLength(frame(blobs[0]!));
    expect(await failureOf(fetchInto(batch, blobs.map(sha)))).toMatchObject({
      kind: 'stream',
      why: 'the answer ended after 1 of 2 blobs',
    });

    // In another order than asked.
    answer = withLength(Buffer.concat([frame(blobs[1]!), frame(blobs[0]!)]));
    const outOfOrder = await failureOf(fetchInto(batch, blobs.map(sha)));
    expect(outOfOrder.kind).toBe('stream');
    expect(outOfOrder.kind === 'stream' && outOfOrder.why).toMatch(/arrived where .* was expected/);

    // Not HTTP at all.
    answer = (socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
    expect(await failureOf(fetchInto(batch, blobs.map(sha)))).toMatchObject({
      kind: 'stream',
      why: 'not an HTTP/1.1 answer: "SSH-2.0-OpenSSH_9.2"',
    });

    // A frame whose size cannot be: not a stream of frames.
    const impossible = Buffer.alloc(FRAME_HEADER);
    impossible.write(sha(blobs[0]!), 0, 'hex');
    impossible.writeBigUInt64BE(2n ** 63n, 32);
    answer = withLength(impossible);
    expect(await failureOf(fetchInto(batch, blobs.map(sha)))).toMatchObject({
      kind: 'stream',
      why: 'a frame claims 9223372036854775808 bytes',
    });
    expect(batch.unflushedCount).toBe(0);
    expect(tmpFiles()).toEqual([]);
  });

  it('hands back a refusal with its status and problem document', async () => {
    const problem = JSON.stringify({ code: 'NOT_FOUND', detail: 'Blob abc is not here.' });
    answer = (socket) =>
      socket.end(
        `HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\nContent-Length: ${problem.length}\r\n\r\n${problem}`,
      );
    expect(await failureOf(fetchInto(new BlobBatch(store), [sha(randomBytes(4))]))).toEqual({
      kind: 'refused',
      status: 404,
      body: problem,
    });
  });

  it('refuses a peer presenting another certificate, before sending the request', async () => {
    const before = requests.length;
    const wrong = 'AB:'.repeat(31) + 'AB';
    expect(await failureOf(fetchInto(new BlobBatch(store), [sha(randomBytes(4))], wrong))).toEqual({
      kind: 'certificate',
      presented: fingerprint,
    });
    expect(requests.length).toBe(before);
  });

  it('says unreachable when nothing listens on the port', async () => {
    const closed = tls.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const e = await new BlobBatch(store)
      .fetch({ host: '127.0.0.1', port: dead, fingerprint, request }, [sha(randomBytes(4))], () =>
        expect.fail('nothing was written'),
      )
      .catch((e: unknown) => e);
    expect((e as InstanceType<typeof BlobFetchError>).failure).toEqual({
      kind: 'unreachable',
      code: 'ECONNREFUSED',
    });
  });

  it('says unreachable when a peer takes the connection but never completes the handshake', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const at = (silent.address() as AddressInfo).port;
    try {
      const e = await new BlobBatch(store)
        .fetch(
          { host: '127.0.0.1', port: at, fingerprint, request, connectTimeoutMs: 300 },
          [sha(randomBytes(4))],
          () => expect.fail('nothing was written'),
        )
        .catch((e: unknown) => e);
      expect((e as InstanceType<typeof BlobFetchError>).failure).toEqual({
        kind: 'unreachable',
        code: 'ETIMEDOUT',
      });
    } finally {
      silent.close();
    }
  });

  it('fails a fetch still under way when the store is closed, instead of leaving it waiting', async () => {
    const other = new BlobStore(path.join(root, 'closing'));
    await other.init();
    let answered: (() => void) | undefined;
    const asked = new Promise<void>((r) => (answered = r));
    answer = () => answered?.(); // the request is read and never answered
    const pending = new BlobBatch(other)
      .fetch({ host: '127.0.0.1', port, fingerprint, request }, [sha(randomBytes(4))], () =>
        expect.fail('nothing was written'),
      )
      .catch((e: unknown) => e);
    await asked;
    await other.close();
    expect(await pending).toMatchObject({ message: 'the blob store was closed' });
  });
});

describe('reading frames to send, in shared slots used again', () => {
  it('reads more groups at once than there are slots (the rest in buffers of their own), each whole', async () => {
    const blobs = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const bytes = randomBytes(1000 + i * 5000);
        await store.put(bytes);
        return bytes;
      }),
    );
    const expected = (group: Buffer[]) => Buffer.concat(group.map((b) => frame(b)));
    const groups = blobs.map((b, i) => [b, blobs[(i + 1) % blobs.length]!]);
    // None released: 8 slots, then 4 reads in memory of their own.
    const held = await Promise.all(
      groups.map((g) => store.io.readFrames(g.map((b) => ({ sha256: sha(b), size: b.length })))),
    );
    for (const [i, r] of held.entries()) expect(r.frames.equals(expected(groups[i]!))).toBe(true);
    const shared = held.filter((r) => r.frames.buffer instanceof SharedArrayBuffer);
    expect(shared).toHaveLength(8);
    for (const r of held) r.release();
    // A released slot serves the next read; releasing twice gives nothing back twice.
    held[0]!.release();
    const again = await Promise.all(
      groups.map((g) => store.io.readFrames(g.map((b) => ({ sha256: sha(b), size: b.length })))),
    );
    for (const [i, r] of again.entries()) expect(r.frames.equals(expected(groups[i]!))).toBe(true);
    expect(again.filter((r) => r.frames.buffer instanceof SharedArrayBuffer)).toHaveLength(8);
    for (const r of again) r.release();
  });

  it('fails a read whose blob is not the size given, and frees its slot', async () => {
    const bytes = randomBytes(3000);
    await store.put(bytes);
    for (let i = 0; i < 10; i++)
      await expect(
        store.io.readFrames([{ sha256: sha(bytes), size: bytes.length + 1 }]),
      ).rejects.toThrow(/changed size while being sent/);
    const r = await store.io.readFrames([{ sha256: sha(bytes), size: bytes.length }]);
    expect(r.frames.buffer).toBeInstanceOf(SharedArrayBuffer);
    r.release();
  });
});
