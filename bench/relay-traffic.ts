/** The traffic of the relay benchmark on one connection: a bulk transfer and round trips. */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { since } from './relay-site.js';

/** Write a length and `bytes` bytes to a sink; milliseconds until it says it has them all. */
export async function bulk(socket: Duplex, bytes: number, block: Buffer): Promise<number> {
  const ack = new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the sink had every byte')));
  });
  const t0 = performance.now();
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(bytes));
  socket.write(head);
  for (let left = bytes; left > 0; left -= block.length) {
    const chunk = left >= block.length ? block : block.subarray(0, left);
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  await ack;
  const ms = since(t0);
  socket.removeAllListeners('close');
  socket.destroy();
  return ms;
}

/** Round trips of `size` bytes through an echo, one at a time; milliseconds each. */
export async function pingPong(
  socket: Duplex,
  count: number,
  into: number[],
  size: number,
): Promise<void> {
  const message = randomBytes(size);
  let got = 0;
  let back: (() => void) | undefined;
  const onData = (c: Buffer) => {
    got += c.length;
    if (got >= size) {
      got -= size;
      back?.();
    }
  };
  socket.on('data', onData);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      back = resolve;
      socket.write(message);
    });
    into.push(since(t0));
  }
  socket.off('data', onData);
}
