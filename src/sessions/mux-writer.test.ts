import { afterEach, describe, expect, it } from 'vitest';
import { loopbackPair } from '../../test/support/mux-pair.js';
import { until } from '../shared/until.js';
import { CONNECTION_BUFFER, FRAME, SLICE } from './mux-frame.js';
import { MuxWriter } from './mux-writer.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('MuxWriter', () => {
  it('sends its waiting DATA once the buffer empties, when only other frames filled it (no DATA write to complete, no drain to come)', async () => {
    // A high-water mark far above what is written: write() never says wait, no 'drain' comes.
    const { server, socket, serverSocket: peer } = await loopbackPair(64 * 1024 * 1024);
    cleanups.push(() => {
      socket.destroy();
      peer.destroy();
      server.close();
    });
    peer.pause();
    const connection = { closed: false };
    const writer = new MuxWriter(socket, connection);
    cleanups.push(() => {
      connection.closed = true;
      writer.clear();
    });
    // Other frames only: more than the kernel's buffers and the writer's limit take.
    for (let i = 0; i < 128; i++) writer.send(FRAME.window, i, Buffer.alloc(64 * 1024));
    expect(socket.writableNeedDrain).toBe(false);
    expect(socket.writableLength).toBeGreaterThanOrEqual(CONNECTION_BUFFER);
    // A stream with 1 MiB to send takes its turn: the pump stops at once for the buffer.
    let left = 1024 * 1024;
    let sent = 0;
    writer.schedule({
      sendSlice(max: number) {
        const n = Math.min(max, left, SLICE);
        writer.send(FRAME.data, 1, Buffer.alloc(n, 1));
        left -= n;
        sent += n;
        return left > 0;
      },
    });
    expect(sent).toBe(0);
    // The peer reads: the buffer empties, and the stream's DATA must follow.
    let received = 0;
    peer.on('data', (chunk: Buffer) => (received += chunk.length));
    peer.resume();
    await until(() => left === 0, 20_000, `the stream's DATA to be sent (${sent} bytes were)`);
    await until(
      () => received >= 128 * (64 * 1024 + 9) + sent,
      20_000,
      `every byte to arrive (${received})`,
    );
    expect(sent).toBe(1024 * 1024);
  });
});
