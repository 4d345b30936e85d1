import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { until } from '../shared/until.js';
import { parseRecording, RecordingWriter, type Direction } from './recording.js';

const header = {
  session: 's-1',
  appliance: 'a',
  representative: 'admin',
  jumpClient: 'web-01',
  target: '127.0.0.1:22',
  startedAt: Date.now(),
};

/** Whether the filesystem under `dir` opens files with O_DIRECT. */
function acceptsDirect(dir: string): boolean {
  const probe = path.join(dir, 'probe');
  try {
    closeSync(openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT, 0o600));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

/** A chunk whose bytes say which chunk and which byte they are. */
function chunk(i: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let j = 0; j < length; j++) b[j] = (i * 131 + j * 7) & 255;
  return b;
}

/**
 * Phases of appends, each ended by waiting until every byte is in the file: small frames (the
 * page cache), bulk across block and slab boundaries (slabs, the first one reading back the
 * partial block), 100 KiB of small frames (a partial slab: O_DIRECT and a rest through the page
 * cache), bulk again, a few bytes.
 */
const PHASES: number[][] = [
  [1, 2, 511, 512, 513, 700, 1],
  [
    ...Array.from({ length: 40 }, (_, i) => (i % 9 === 4 ? 1 : 16_384)),
    600 * 1024,
    4095,
    4097,
    ...Array.from({ length: 70 }, (_, i) => (i % 7 === 3 ? 1 + i * 37 : 16_384)),
  ],
  Array.from({ length: 200 }, (_, i) => 300 + ((i * 97) % 700)),
  [16_384 * 3, 1, ...Array.from({ length: 90 }, () => 16_384), 1_000_000, 3],
  [9, 1],
];

async function record(file: string, options: { direct?: boolean }) {
  const writer = new RecordingWriter(file, header, options);
  const sent: { direction: Direction; data: Buffer }[] = [];
  let expected = statSync(file).size;
  for (const sizes of PHASES) {
    for (const size of sizes) {
      const direction: Direction = sent.length % 5 === 0 ? 'from-target' : 'to-target';
      const data = chunk(sent.length, size);
      sent.push({ direction, data });
      expected += 9 + size;
      if (!writer.append(direction, data)) await new Promise<void>((r) => writer.onDrain(r));
    }
    await until(() => statSync(file).size === expected, 10_000, `${expected} bytes in ${file}`);
  }
  return { written: await writer.finish(), writes: writer.writes, sent };
}

describe('RecordingWriter with O_DIRECT', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'recording-direct-'));
    // Frames carry the milliseconds since the start: the same in both files.
    vi.useFakeTimers({ toFake: ['Date'], now: header.startedAt + 1234 });
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the same file with O_DIRECT as through the page cache alone, bulk and small appends mixed', async () => {
    const direct = await record(path.join(dir, 'direct.rec'), {});
    const cached = await record(path.join(dir, 'cached.rec'), { direct: false });
    const onDisk = readFileSync(path.join(dir, 'direct.rec'));
    expect(onDisk.equals(readFileSync(path.join(dir, 'cached.rec')))).toBe(true);
    // The SHA-256 and size finish() returns are the file's.
    expect(direct.written).toEqual({
      sha256: createHash('sha256').update(onDisk).digest('hex'),
      size: onDisk.length,
    });
    expect(cached.written).toEqual(direct.written);
    const { frames, truncated } = parseRecording(onDisk);
    expect(truncated).toBe(false);
    expect(frames.length).toBe(direct.sent.length);
    expect(
      frames.every(
        (f, i) => f.direction === direct.sent[i]!.direction && f.data.equals(direct.sent[i]!.data),
      ),
    ).toBe(true);
    expect(cached.writes.direct).toBe(0);
  });

  it('takes O_DIRECT for bulk where the filesystem accepts it, the page cache for small batches', async () => {
    const { writes } = await record(path.join(dir, 'direct.rec'), {});
    expect(writes.buffered).toBeGreaterThan(0);
    if (acceptsDirect(dir)) expect(writes.direct).toBeGreaterThanOrEqual(5);
    else expect(writes.direct).toBe(0);
  });

  it('goes on through the page cache, and says so once, when O_DIRECT cannot be opened', async () => {
    const file = path.join(dir, 's-1.rec');
    const logged: [string, Record<string, unknown> | undefined][] = [];
    const writer = new RecordingWriter(file, header, { log: (msg, f) => logged.push([msg, f]) });
    writer.append('to-target', chunk(0, 100));
    const start = statSync(file).size;
    await until(() => statSync(file).size === start + 109, 10_000, 'the first write');
    // The writer's descriptor still writes the file; its path no longer opens it.
    const moved = path.join(dir, 'moved.rec');
    renameSync(file, moved);
    const sent = [chunk(0, 100)];
    for (let i = 1; i < 100; i++) {
      sent.push(chunk(i, 16_384));
      if (!writer.append('to-target', sent[i]!)) await new Promise<void>((r) => writer.onDrain(r));
    }
    const written = await writer.finish();
    const onDisk = readFileSync(moved);
    expect(written.sha256).toBe(createHash('sha256').update(onDisk).digest('hex'));
    const { frames } = parseRecording(onDisk);
    expect(frames.length).toBe(100);
    expect(frames.every((f, i) => f.data.equals(sent[i]!))).toBe(true);
    expect(writer.writes.direct).toBe(0);
    expect(logged).toEqual([
      ['recordings written through the page cache: O_DIRECT refused', { dir, err: 'ENOENT' }],
    ]);
  });
});
