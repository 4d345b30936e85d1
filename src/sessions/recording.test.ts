import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRecording, RecordingWriter, type Direction } from './recording.js';

const header = {
  session: 's-1',
  appliance: 'a',
  representative: 'admin',
  jumpClient: 'web-01',
  target: '127.0.0.1:22',
  startedAt: Date.now(),
};

describe('RecordingWriter', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every byte of both directions, in order, when frames are written in batches', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'recording-'));
    const file = path.join(dir, 's-1.rec');
    const writer = new RecordingWriter(file, header);
    const sent: Buffer[] = [];
    for (let i = 0; i < 600; i++) {
      const direction: Direction = i % 3 === 0 ? 'from-target' : 'to-target';
      const data = randomBytes(1 + ((i * 7919) % 20_000));
      sent.push(Buffer.concat([Buffer.of(direction === 'to-target' ? 0 : 1), data]));
      // As the relay does: wait when the writer asks to.
      if (!writer.append(direction, data)) await new Promise<void>((r) => writer.onDrain(r));
    }
    const written = await writer.finish();
    // Hashed as written, so storing it need not read it back: the file's own hash and size.
    const onDisk = readFileSync(file);
    expect(written).toEqual({
      sha256: createHash('sha256').update(onDisk).digest('hex'),
      size: onDisk.length,
    });
    const { header: read, frames, truncated } = parseRecording(onDisk);
    expect(read).toEqual(header);
    expect(truncated).toBe(false);
    const got = frames.map((f) =>
      Buffer.concat([Buffer.of(f.direction === 'to-target' ? 0 : 1), f.data]),
    );
    expect(got.length).toBe(sent.length);
    // Buffer.equals: a deep toEqual of megabytes takes seconds.
    expect(got.every((g, i) => g.equals(sent[i]!))).toBe(true);
  });

  it('leaves the header alone for a session that carried no bytes', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'recording-'));
    const file = path.join(dir, 's-1.rec');
    const written = await new RecordingWriter(file, header).finish();
    expect(written.size).toBe(readFileSync(file).length);
    expect(parseRecording(readFileSync(file))).toMatchObject({ frames: [], truncated: false });
  });
});
