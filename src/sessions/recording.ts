import { once } from 'node:events';
import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import fsp from 'node:fs/promises';
import { z } from 'zod';
import { GatehouseError } from '../shared/errors.js';

/**
 * A session recording: both directions of the relayed byte stream, each chunk with the time it
 * passed. Layout: the magic line, one JSON header line, then frames of
 * [direction u8][milliseconds since start u32 BE][length u32 BE][bytes].
 * Frames are appended as the session runs, so a recording cut short by a crash is still
 * readable up to its last whole frame.
 */
export const RECORDING_MAGIC = 'GATEHOUSE-RECORDING-1\n';
export const FRAME_HEADER = 9;

/** Console → remote computer, and remote computer → console. */
export type Direction = 'to-target' | 'from-target';
const DIRECTION_CODE: Record<Direction, number> = { 'to-target': 0, 'from-target': 1 };

export const RecordingHeader = z.object({
  session: z.string(),
  appliance: z.string(),
  representative: z.string(),
  jumpClient: z.string(),
  target: z.string(),
  startedAt: z.number(),
});
export type RecordingHeader = z.infer<typeof RecordingHeader>;

export interface RecordingFrame {
  direction: Direction;
  /** Milliseconds since the session started. */
  at: number;
  data: Buffer;
}

/**
 * Writes one session's recording. The header is written at once (a crash still leaves who,
 * what and when); the file is held open only once bytes flow, so idle sessions hold no file.
 */
export class RecordingWriter {
  private stream: WriteStream | undefined;

  constructor(
    readonly path: string,
    readonly header: RecordingHeader,
  ) {
    writeFileSync(path, RECORDING_MAGIC + JSON.stringify(header) + '\n', {
      flag: 'wx',
      mode: 0o600,
    });
  }

  /** Append one chunk; false when the caller should wait (see `onDrain`). */
  append(direction: Direction, data: Buffer): boolean {
    this.stream ??= createWriteStream(this.path, { flags: 'a', highWaterMark: 256 * 1024 });
    const head = Buffer.allocUnsafe(FRAME_HEADER);
    head.writeUInt8(DIRECTION_CODE[direction], 0);
    head.writeUInt32BE(Math.min(0xffffffff, Date.now() - this.header.startedAt), 1);
    head.writeUInt32BE(data.length, 5);
    this.stream.write(head);
    return this.stream.write(data);
  }

  onDrain(fn: () => void): void {
    if (this.stream) this.stream.once('drain', fn);
    else fn();
  }

  /** Close the file and make it durable. */
  async finish(): Promise<void> {
    if (this.stream) {
      const closed = once(this.stream, 'close');
      this.stream.end();
      await closed;
    }
    const fh = await fsp.open(this.path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/**
 * Parse a recording. A truncated last frame (the appliance stopped mid-write) is dropped; any
 * other damage is an error naming what is wrong.
 */
export function parseRecording(data: Buffer): {
  header: RecordingHeader;
  frames: RecordingFrame[];
  truncated: boolean;
} {
  const damaged = (what: string) =>
    new GatehouseError(
      'RECORDING_DAMAGED',
      422,
      `This is not a whole Gatehouse session recording: ${what}. Download it again from the site.`,
    );
  if (data.subarray(0, RECORDING_MAGIC.length).toString('latin1') !== RECORDING_MAGIC)
    throw damaged('it does not start with the recording marker');
  const headerEnd = data.indexOf(0x0a, RECORDING_MAGIC.length);
  if (headerEnd < 0) throw damaged('its header line is cut short');
  let header: RecordingHeader;
  try {
    header = RecordingHeader.parse(
      JSON.parse(data.subarray(RECORDING_MAGIC.length, headerEnd).toString('utf8')),
    );
  } catch {
    throw damaged('its header is not valid');
  }
  const frames: RecordingFrame[] = [];
  let offset = headerEnd + 1;
  while (offset + FRAME_HEADER <= data.length) {
    const code = data.readUInt8(offset);
    if (code > 1) throw damaged(`frame at byte ${offset} has an unknown direction`);
    const length = data.readUInt32BE(offset + 5);
    if (offset + FRAME_HEADER + length > data.length) break;
    frames.push({
      direction: code === 0 ? 'to-target' : 'from-target',
      at: data.readUInt32BE(offset + 1),
      data: data.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length),
    });
    offset += FRAME_HEADER + length;
  }
  return { header, frames, truncated: offset !== data.length };
}
