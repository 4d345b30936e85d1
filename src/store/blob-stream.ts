/**
 * A stream of blobs, as one appliance sends them to another: per blob, a frame of its 32-byte
 * sha256, its size as a big-endian uint64, then its bytes.
 */
export const FRAME_HEADER = 40;

/** A frame's header, written into the first 40 bytes of `frame`. */
export function writeFrameHeader(frame: Buffer, sha256: string, size: number): Buffer {
  frame.write(sha256, 0, 'hex');
  frame.writeBigUInt64BE(BigInt(size), 32);
  return frame;
}

/** The stream is not made of frames. */
export class FrameError extends Error {}

export interface FrameHandler {
  start(sha256: string, size: number): void;
  /** Bytes of the current blob: a view of the bytes pushed, valid only during the call. */
  data(part: Buffer): void;
  end(): void;
}

/** Splits a stream of frames pushed a chunk at a time, handing the blobs' bytes on uncopied. */
export class FrameDecoder {
  private readonly header = Buffer.alloc(FRAME_HEADER);
  private headerBytes = 0;
  /** Bytes of the current blob still to come; -1 between frames. */
  private left = -1;

  constructor(private readonly on: FrameHandler) {}

  /** Between two frames (not inside a header or a blob). */
  get between(): boolean {
    return this.left < 0 && this.headerBytes === 0;
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.left < 0) {
        const n = Math.min(FRAME_HEADER - this.headerBytes, chunk.length - at);
        chunk.copy(this.header, this.headerBytes, at, at + n);
        this.headerBytes += n;
        at += n;
        if (this.headerBytes < FRAME_HEADER) return;
        this.headerBytes = 0;
        const size = this.header.readBigUInt64BE(32);
        if (size > BigInt(Number.MAX_SAFE_INTEGER))
          throw new FrameError(`a frame claims ${size} bytes`);
        this.left = Number(size);
        this.on.start(this.header.toString('hex', 0, 32), this.left);
      } else {
        const n = Math.min(this.left, chunk.length - at);
        if (n > 0) this.on.data(chunk.subarray(at, at + n));
        at += n;
        this.left -= n;
      }
      if (this.left === 0) {
        this.left = -1;
        this.on.end();
      }
    }
  }
}
