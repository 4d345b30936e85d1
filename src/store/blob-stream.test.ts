import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER, FrameDecoder, writeFrameHeader } from './blob-stream.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const frame = (b: Buffer) =>
  Buffer.concat([writeFrameHeader(Buffer.alloc(FRAME_HEADER), sha(b), b.length), b]);

function decodeAll(wire: Buffer, step: number) {
  const blobs: { sha256: string; size: number; bytes: Buffer[] }[] = [];
  let open = false;
  const d = new FrameDecoder({
    start(sha256, size) {
      expect(open).toBe(false);
      open = true;
      blobs.push({ sha256, size, bytes: [] });
    },
    data(part) {
      blobs.at(-1)!.bytes.push(Buffer.from(part));
    },
    end() {
      open = false;
    },
  });
  const scratch = Buffer.alloc(step);
  for (let at = 0; at < wire.length; at += step) {
    const n = wire.copy(scratch, 0, at, at + step);
    d.push(scratch.subarray(0, n));
  }
  return { blobs, between: d.between };
}

describe('splitting a stream of blob frames', () => {
  it('finds every blob, empty ones too, whatever the pieces it arrives in', () => {
    const originals = [randomBytes(1000), Buffer.alloc(0), randomBytes(1), randomBytes(70_000)];
    const wire = Buffer.concat(originals.map(frame));
    for (const step of [1, 39, 40, 41, 1024, wire.length]) {
      const { blobs, between } = decodeAll(wire, step);
      expect(between).toBe(true);
      expect(blobs.map((b) => b.size)).toEqual(originals.map((o) => o.length));
      for (const [i, b] of blobs.entries()) {
        expect(b.sha256).toBe(sha(originals[i]!));
        expect(Buffer.concat(b.bytes).equals(originals[i]!)).toBe(true);
      }
    }
  });

  it('knows when it stopped inside a frame, in its header or its bytes', () => {
    const wire = frame(randomBytes(500));
    expect(decodeAll(wire.subarray(0, 20), 7).between).toBe(false);
    expect(decodeAll(wire.subarray(0, 300), 7).between).toBe(false);
    expect(decodeAll(wire, 7).between).toBe(true);
  });

  it('refuses a frame claiming more bytes than can be counted', () => {
    const header = Buffer.alloc(FRAME_HEADER);
    header.writeBigUInt64BE(2n ** 63n, 32);
    expect(() => decodeAll(header, 64)).toThrow(/claims 9223372036854775808 bytes/);
  });
});
