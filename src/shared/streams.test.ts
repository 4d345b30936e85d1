import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pipeByTick, tickCorker } from './streams.js';

/** A sink that records each write it is handed: one entry per single write or writev. */
function countingSink() {
  const writes: number[] = [];
  const received: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push(1);
      received.push(chunk);
      cb();
    },
    writev(chunks, cb) {
      writes.push(chunks.length);
      for (const c of chunks) received.push(c.chunk as Buffer);
      cb();
    },
  });
  return { sink, writes, received };
}

describe('tickCorker', () => {
  it('hands the writes of one tick over together, and those of the next tick apart', async () => {
    const { sink, writes } = countingSink();
    const hold = tickCorker(sink);
    for (let i = 0; i < 5; i++) {
      hold();
      sink.write(Buffer.alloc(16));
    }
    await new Promise((r) => setImmediate(r));
    hold();
    sink.write(Buffer.alloc(16));
    await new Promise((r) => setImmediate(r));
    expect(writes).toEqual([5, 1]);
  });
});

describe('pipeByTick', () => {
  it('delivers every byte in order, the chunks of one tick in one write', async () => {
    const from = new PassThrough();
    const { sink, writes, received } = countingSink();
    pipeByTick(from, sink);
    const sent = Array.from({ length: 8 }, () => randomBytes(1000));
    for (const c of sent.slice(0, 4)) from.write(c);
    await new Promise((r) => setImmediate(r));
    for (const c of sent.slice(4)) from.write(c);
    from.end();
    await once(sink, 'finish');
    expect(Buffer.concat(received).equals(Buffer.concat(sent))).toBe(true);
    expect(writes.reduce((a, b) => a + b, 0)).toBe(8);
    expect(writes.length).toBeLessThan(8);
  });
});
