import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { muxPair } from '../../test/support/mux-pair.js';
import { GatehouseError } from '../shared/errors.js';
import { until } from '../shared/until.js';
import { CONNECTION_BUFFER, HEADER, LONE_FRAME, SLICE } from './mux-frame.js';
import { FRAME, INITIAL_WINDOW, MAX_FRAME, MuxConnection, type MuxStream } from './mux.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A client and an appliance side over a real loopback TCP connection. */
async function pair(
  onOpen: (request: unknown, stream: MuxStream) => void,
  options: { allowHalfOpen?: boolean; clientHighWaterMark?: number } = {},
) {
  const { client, appliance, socket, serverSocket } = await muxPair(
    onOpen,
    (close) => cleanups.push(close),
    options,
  );
  // Streams fail when the connection closes at the end of a test, as sockets would.
  const open = client.open.bind(client);
  client.open = async (request, timeoutMs) => {
    const stream = await open(request, timeoutMs);
    stream.on('error', () => undefined);
    return stream;
  };
  return { client, appliance, socket, serverSocket };
}

const collect = async (stream: MuxStream): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await once(stream, 'end');
  return Buffer.concat(chunks);
};

describe('MuxConnection', () => {
  it('carries several concurrent streams byte for byte both ways', async () => {
    const { client } = await pair((_request, stream) => {
      stream.accept();
      stream.pipe(stream); // echo
    });
    const sent = Array.from({ length: 4 }, () => randomBytes(3 * 1024 * 1024 + 17));
    const echoed = await Promise.all(
      sent.map(async (bytes, i) => {
        const stream = await client.open({ path: '/echo', i });
        const back = collect(stream);
        for (let at = 0; at < bytes.length; at += 100_000)
          if (!stream.write(bytes.subarray(at, at + 100_000))) await once(stream, 'drain');
        stream.end();
        return back;
      }),
    );
    echoed.forEach((b, i) => expect(b.equals(sent[i]!)).toBe(true));
    await until(() => client.size === 0, 5_000, 'the streams to close');
  });

  it('holds a sender back while its reader is slow, then delivers everything', async () => {
    let far: MuxStream | undefined;
    const { client } = await pair((_request, stream) => {
      stream.accept();
      stream.pause();
      far = stream;
    });
    const stream = await client.open({ path: '/slow' });
    const chunk = randomBytes(16 * 1024);
    let written = 0;
    let stop = false;
    const writing = (async () => {
      while (!stop) {
        written += chunk.length;
        if (!stream.write(chunk)) await once(stream, 'drain');
      }
    })();
    await until(() => far && far.readableLength >= INITIAL_WINDOW, 5_000, 'the window to fill');
    await new Promise((r) => setImmediate(r));
    // Blocked for credit: neither side holds more than the window and a few writes.
    expect(far!.readableLength).toBe(INITIAL_WINDOW);
    expect(written).toBeLessThanOrEqual(INITIAL_WINDOW + 128 * 1024);
    expect(stream.writableLength).toBeLessThanOrEqual(64 * 1024 + chunk.length);
    stop = true;
    const received = collect(far!);
    far!.resume();
    await writing;
    stream.end();
    expect((await received).length).toBe(written);
  });

  it('keeps sending when the socket takes more than its buffer before asking to wait (no drain comes)', async () => {
    let far: MuxStream | undefined;
    const { client, socket } = await pair(
      (_request, stream) => {
        stream.accept();
        stream.pause(); // no credit comes back: only the socket can let the sender go on
        far = stream;
      },
      { clientHighWaterMark: 4 * CONNECTION_BUFFER },
    );
    expect(socket.writableHighWaterMark).toBe(4 * CONNECTION_BUFFER);
    const stream = await client.open({ path: '/big' });
    // One write of twice the credit: the pump stops at CONNECTION_BUFFER, and the socket, far
    // below its high-water mark, never said wait, so it will emit no 'drain'.
    stream.write(randomBytes(2 * INITIAL_WINDOW));
    await until(
      () => far && far.readableLength >= INITIAL_WINDOW,
      10_000,
      `all the credit to arrive (${far?.readableLength ?? 0} bytes did)`,
    );
    expect(far!.readableLength).toBe(INITIAL_WINDOW);
  });

  it('waits for the bytes to leave, without looking again every turn, while the socket holds the buffer and its peer reads nothing; then delivers everything', async () => {
    const far: MuxStream[] = [];
    const { client, socket, serverSocket } = await pair(
      (_request, stream) => {
        stream.accept();
        far.push(stream);
      },
      { clientHighWaterMark: 4 * CONNECTION_BUFFER },
    );
    const streams = await Promise.all(
      Array.from({ length: 12 }, () => client.open({ path: '/big' })),
    );
    await until(() => far.length === streams.length, 5_000, 'the opens');
    // The peer reads nothing at all: the kernel's buffers fill (here about 4 MiB, the most of
    // net.ipv4.tcp_wmem), then the socket's own; the credit of 12 streams is 12 MiB.
    serverSocket.pause();
    const received = far.map(collect);
    const sent = streams.map(() => randomBytes(2 * INITIAL_WINDOW));
    streams.forEach((stream, i) => stream.end(sent[i]));
    // The pump's every look at the socket's buffer (its loop's condition) is counted.
    let looks = 0;
    let proto: object | null = socket;
    while (proto && !Object.getOwnPropertyDescriptor(proto, 'writableLength'))
      proto = Object.getPrototypeOf(proto) as object | null;
    const length = Object.getOwnPropertyDescriptor(proto!, 'writableLength')!.get!;
    Object.defineProperty(socket, 'writableLength', {
      configurable: true,
      get() {
        looks++;
        return length.call(this) as number;
      },
    });
    // The kernel's buffers are full once the bytes handed to it stop growing (four looks in a row).
    let handed = -1;
    let same = 0;
    await until(
      () => {
        const now = socket.bytesWritten - length.call(socket);
        same = now === handed ? same + 1 : 0;
        handed = now;
        return same >= 4 && length.call(socket) >= CONNECTION_BUFFER;
      },
      10_000,
      "the kernel's buffers to fill",
    );
    // Stopped at the buffer, far below the socket's high-water mark (no 'drain' will come): in
    // 500 turns of the event loop the pump does not look again at every turn (the code before
    // did, a busy loop for as long as the peer read nothing).
    looks = 0;
    for (let turn = 0; turn < 500; turn++) await new Promise((r) => setImmediate(r));
    const looked = looks;
    expect(length.call(socket)).toBeGreaterThanOrEqual(CONNECTION_BUFFER);
    // Not all the credit was sent: the pump stopped for the buffer, not for credit.
    expect(socket.bytesWritten).toBeLessThan(streams.length * INITIAL_WINDOW);
    expect(looked, 'looks at the socket in 500 turns').toBeLessThan(50);
    // Once the peer reads, everything arrives.
    serverSocket.resume();
    const got = await Promise.all(received);
    got.forEach((bytes, i) => expect(bytes.equals(sent[i]!), `stream ${i}`).toBe(true));
  });

  // Each bulk stream sends a counter's bytes (i mod 251) as fast as its credit allows: three in
  // writes of nearly a whole window (the most a stream could hand the socket at once before
  // slicing); one alone in writes of 1.75 LONE_FRAME, so that the frame after a write's tail
  // (0.75 LONE_FRAME) starts in a socket that holds most of the buffer.
  for (const [BULKS, WRITE] of [
    [3, INITIAL_WINDOW],
    [1, 1.75 * LONE_FRAME],
  ] as const)
    it(`puts at most the buffer, one slice and one slice per bulk stream ahead of an interactive frame (${BULKS} bulk), shares the connection fairly, every byte in order`, async () => {
      const pattern = Buffer.from(
        Array.from({ length: 251 * Math.floor(WRITE / 251) }, (_, i) => i % 251),
      );
      const echoIds = new Set<number>();
      // Per echo: the bytes the appliance's socket held unsent when the echo's bytes reached the
      // appliance's stream, and the DATA bytes of other streams written before the echo's frame.
      let counting: { ahead: number } | undefined;
      const aheads: number[] = [];
      /** The most the appliance's socket held unsent just after a DATA frame was written. */
      let held = 0;
      const { client, serverSocket } = await pair((request, stream) => {
        stream.accept();
        if ((request as { path: string }).path === '/echo') {
          echoIds.add(stream.id);
          stream.on('data', () => (counting ??= { ahead: serverSocket.writableLength }));
          return void stream.pipe(stream);
        }
        const more = () => {
          while (!stream.destroyed && stream.write(pattern));
        };
        stream.on('drain', more);
        more();
      });
      // The appliance writes each frame's header, then its payload (MuxWriter.send).
      const write = serverSocket.write.bind(serverSocket) as (chunk: Buffer) => boolean;
      let payloadNext = false;
      serverSocket.write = ((chunk: Buffer, ...rest: unknown[]) => {
        if (payloadNext) payloadNext = false;
        else if (chunk.length === HEADER) {
          payloadNext = chunk.readUInt32BE(5) > 0;
          if (chunk[0] === FRAME.data)
            held = Math.max(held, serverSocket.writableLength + HEADER + chunk.readUInt32BE(5));
          if (counting && chunk[0] === FRAME.data) {
            if (echoIds.has(chunk.readUInt32BE(1))) {
              aheads.push(counting.ahead);
              counting = undefined;
            } else counting.ahead += chunk.readUInt32BE(5) + HEADER;
          }
        }
        return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof serverSocket.write;

      const echo = await client.open({ path: '/echo' });
      const bulks = await Promise.all(
        Array.from({ length: BULKS }, () => client.open({ path: '/bulk' })),
      );
      const bulkBytes = bulks.map(() => 0);
      const total = () => bulkBytes.reduce((a, b) => a + b, 0);
      const wrong: string[] = [];
      bulks.forEach((bulk, n) => {
        let at = 0;
        bulk.on('data', (c: Buffer) => {
          for (let i = 0; i < c.length; i++)
            if (c[i] !== (at + i) % 251) {
              wrong.push(`bulk ${n}: byte ${at + i}`);
              break;
            }
          at += c.length;
          bulkBytes[n]! += c.length;
        });
      });
      await until(() => total() > 8 * INITIAL_WINDOW, 10_000, 'the bulk streams to run');
      let pending = Buffer.alloc(0);
      echo.on('data', (c: Buffer) => (pending = Buffer.concat([pending, c])));
      const started = total();
      for (let round = 0; round < 100; round++) {
        const message = randomBytes(100);
        echo.write(message);
        await until(() => pending.length >= 100, 10_000, `echo ${round}`, 1);
        expect(pending.subarray(0, 100).equals(message), `echo ${round}`).toBe(true);
        pending = pending.subarray(100);
      }
      // Bulk data went on beside the echoes, unharmed, and no bulk stream starved another.
      expect(total() - started).toBeGreaterThan(4 * INITIAL_WINDOW);
      expect(wrong).toEqual([]);
      expect(
        Math.max(...bulkBytes),
        `bytes per bulk stream: ${bulkBytes.join(', ')}`,
      ).toBeLessThanOrEqual(2 * Math.min(...bulkBytes));
      // What queued ahead of each echo in the process (the kernel's buffers, which it does not
      // schedule, come on top): below the buffer, plus the frame that crossed it (one SLICE at
      // most: a stream alone sends up to LONE_FRAME, but only up to the buffer's limit), plus one
      // slice of each bulk stream; and the few small frames between.
      expect(aheads.length).toBe(100);
      const most = Math.max(...aheads);
      expect(
        most,
        `bytes ahead of the echoes, most first: ${aheads
          .sort((a, b) => b - a)
          .slice(0, 5)
          .join(', ')}`,
      ).toBeLessThanOrEqual(CONNECTION_BUFFER + SLICE + BULKS * SLICE + 64 * HEADER + 4096);
      // Whatever frame comes next waits behind no more than the buffer and one SLICE: a lone
      // stream's frame too (the code before put up to a whole LONE_FRAME on a buffer just short
      // of full, ~0.52 MB).
      expect(held, 'the most the socket held after a DATA frame').toBeLessThanOrEqual(
        CONNECTION_BUFFER + SLICE + 64 * HEADER + 4096,
      );
    });

  it("ends both directions on the peer's end(), as a socket does", async () => {
    let far: MuxStream | undefined;
    const { client } = await pair((_request, stream) => {
      stream.accept();
      far = stream;
      stream.resume();
    });
    const stream = await client.open({ path: '/end' });
    const closed = once(stream, 'close');
    stream.resume();
    stream.end('bye');
    await closed;
    await until(() => far?.closed, 5_000, 'the far side to close');
    expect(client.size).toBe(0);
  });

  it("closes at the peer's end even when nothing reads the stream, as a socket does", async () => {
    const { client } = await pair((_request, stream) => {
      stream.accept();
      stream.resume();
      stream.end();
    });
    const stream = await client.open({ path: '/unread' });
    await until(() => stream.closed, 5_000, 'the stream to close');
  });

  it('half-closes with end() when asked to, and closes once both directions are done', async () => {
    const { client } = await pair(
      (_request, stream) => {
        stream.accept();
        void collect(stream).then((got) => stream.end(`got ${got.toString()}`));
      },
      { allowHalfOpen: true },
    );
    const stream = await client.open({ path: '/half' });
    const closed = once(stream, 'close');
    const back = collect(stream);
    stream.end('hello');
    expect((await back).toString()).toBe('got hello');
    await closed;
    await until(() => client.size === 0, 5_000, 'the stream to be forgotten');
  });

  it("refuses an open with the appliance's problem", async () => {
    const { client } = await pair((_request, stream) =>
      stream.refuse(new GatehouseError('SESSION_TICKET_USED', 409, 'Ask for a new session.')),
    );
    await expect(client.open({ path: '/x' })).rejects.toMatchObject({
      code: 'SESSION_TICKET_USED',
      status: 409,
      message: 'Ask for a new session.',
    });
  });

  it('resets the peer on destroy, with the error when there is one', async () => {
    const far: MuxStream[] = [];
    const { client } = await pair((_request, stream) => {
      stream.accept();
      far.push(stream);
    });
    const plain = await client.open({ path: '/a' });
    await until(() => far[0], 5_000, 'the open');
    const closed = once(far[0]!, 'close');
    plain.destroy();
    await closed;
    expect(far[0]!.errored).toBeNull();

    const failing = await client.open({ path: '/b' });
    await until(() => far[1], 5_000, 'the open');
    const error = once(far[1]!, 'error');
    failing.on('error', () => undefined);
    failing.destroy(new GatehouseError('TARGET_GONE', 502, 'the target closed'));
    expect((await error)[0]).toMatchObject({ code: 'TARGET_GONE', status: 502 });
  });

  it('fails every stream and pending open when the connection is reset', async () => {
    let far: MuxStream | undefined;
    const { client, serverSocket } = await pair((request, stream) => {
      if ((request as { path: string }).path === '/never') return; // never answered
      stream.accept();
      far = stream;
    });
    const stream = await client.open({ path: '/a' });
    const pending = client.open({ path: '/never' });
    await until(() => far, 5_000, 'the open');
    const error = once(stream, 'error');
    serverSocket.resetAndDestroy();
    expect((await error)[0]).toMatchObject({ code: 'ECONNRESET' });
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(client.open({ path: '/after' })).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('closes its streams without an error when the connection ends, as sockets do', async () => {
    const { client, appliance } = await pair((request, stream) => {
      if ((request as { path: string }).path !== '/never') stream.accept();
    });
    const stream = await client.open({ path: '/a' });
    const pending = client.open({ path: '/never' });
    await until(() => appliance.size === 2, 5_000, 'the opens');
    const closed = once(stream, 'close');
    appliance.close('appliance stopping');
    await closed;
    expect(stream.errored).toBeNull();
    // A session not yet started fails with a connection error: the console retries.
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it("stays closed when closed for an empty reason (a socket error's '' message)", async () => {
    const { client, socket } = await pair(() => undefined);
    const reasons: string[] = [];
    client.on('close', (why: string) => reasons.push(why));
    const socketClosed = once(socket, 'close');
    client.close('', true);
    expect(client.closed).toBe(true);
    const refused = client.open({ path: '/after' });
    expect(client.size).toBe(0);
    await expect(refused).rejects.toMatchObject({ code: 'ECONNRESET' });
    client.close('again');
    await socketClosed; // its 'close' event closes the connection once more: a no-op too
    expect(reasons).toEqual(['']);
  });

  it('parses frames however the connection splits them', async () => {
    const frame = (type: number, id: number, payload: Buffer) => {
      const header = Buffer.alloc(9);
      header[0] = type;
      header.writeUInt32BE(id, 1);
      header.writeUInt32BE(payload.length, 5);
      return [header, payload];
    };
    const data = randomBytes(200_000);
    const wire = Buffer.concat([
      ...frame(FRAME.open, 1, Buffer.from(JSON.stringify({ path: '/split' }))),
      ...frame(FRAME.data, 1, data.subarray(0, 65_536)),
      ...frame(FRAME.data, 1, data.subarray(65_536, 70_000)),
      ...frame(FRAME.data, 1, data.subarray(70_000)),
      ...frame(FRAME.fin, 1, Buffer.alloc(0)),
    ]);
    const socket = new Duplex({ read: () => undefined, write: (_c, _e, cb) => cb() });
    let request: unknown;
    const got = new Promise<Buffer>((resolve) => {
      new MuxConnection(socket, {
        allowHalfOpen: true,
        onOpen: (r, stream) => {
          request = r;
          stream.accept();
          void collect(stream).then(resolve);
        },
      });
    });
    // Pieces of 1 to 40 bytes, then of 1 to 20,000: headers and payloads split everywhere.
    for (let at = 0; at < wire.length;) {
      const n = 1 + Math.floor(Math.random() * (at < 300 ? 40 : 20_000));
      socket.push(wire.subarray(at, (at += n)));
    }
    expect((await got).equals(data)).toBe(true);
    expect(request).toEqual({ path: '/split' });
  });

  describe('closes the connection on a protocol violation', () => {
    const frame = (type: number, id: number, payload: Buffer, length = payload.length) => {
      const header = Buffer.alloc(9);
      header[0] = type;
      header.writeUInt32BE(id, 1);
      header.writeUInt32BE(length, 5);
      return Buffer.concat([header, payload]);
    };
    const cases: [string, (stream: MuxStream) => Buffer][] = [
      ['a frame longer than the limit', () => frame(FRAME.data, 1, Buffer.alloc(0), MAX_FRAME + 1)],
      ['a frame of unknown type', () => frame(42, 1, Buffer.alloc(0))],
      ['an open that is not JSON', () => frame(FRAME.open, 3, Buffer.from('{nope'))],
      ['an open with an even id', () => frame(FRAME.open, 4, Buffer.from('{}'))],
      [
        'data beyond the credit',
        () =>
          Buffer.concat(
            Array.from({ length: INITIAL_WINDOW / 65_536 + 1 }, () =>
              frame(FRAME.data, 1, Buffer.alloc(65_536)),
            ),
          ),
      ],
    ];
    for (const [what, bytes] of cases)
      it(what, async () => {
        let far: MuxStream | undefined;
        const { client, appliance, socket } = await pair((_request, stream) => {
          stream.accept();
          stream.pause();
          far = stream;
        });
        await client.open({ path: '/a' });
        await until(() => far, 5_000, 'the open');
        const closed = once(appliance, 'close');
        socket.write(bytes(far!));
        expect(String((await closed)[0])).toMatch(/^protocol violation/);
        expect(far!.destroyed).toBe(true);
      });
  });
});
