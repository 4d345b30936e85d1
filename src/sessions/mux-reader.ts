import { FRAME, HEADER, MAX_FRAME, NOTHING } from './mux-frame.js';

/** What a MuxReader hands on: DATA in pieces, every other frame whole, or a violation. */
export interface FrameSink {
  data(id: number, piece: Buffer): void;
  frame(type: number, id: number, payload: Buffer): void;
  violation(what: string): void;
  /** True once the connection is closed: the rest of a chunk is dropped. */
  readonly closed: boolean;
}

/**
 * Parses a multiplexed connection's bytes into frames as they come (mux-frame.ts has the
 * format). DATA goes on to its stream in the pieces the connection delivers (TLS splits a
 * 64 KiB frame into records): no copy however a frame is split. Only a header split across
 * chunks and the small other frames are pieced together.
 */
export class MuxReader {
  /** A header split across chunks, the rest of a frame under way. */
  private headerPart = NOTHING;
  private dataId = 0;
  private dataLeft = 0;
  private body:
    { type: number; id: number; length: number; have: number; parts: Buffer[] } | undefined;

  constructor(private readonly sink: FrameSink) {}

  receive(chunk: Buffer): void {
    const sink = this.sink;
    let at = 0;
    while (at < chunk.length && !sink.closed) {
      if (this.dataLeft) {
        const n = Math.min(this.dataLeft, chunk.length - at);
        this.dataLeft -= n;
        sink.data(this.dataId, chunk.subarray(at, (at += n)));
        continue;
      }
      if (this.body) {
        const b = this.body;
        const n = Math.min(b.length - b.have, chunk.length - at);
        b.parts.push(chunk.subarray(at, (at += n)));
        b.have += n;
        if (b.have < b.length) return;
        this.body = undefined;
        sink.frame(b.type, b.id, Buffer.concat(b.parts, b.length));
        continue;
      }
      let header: Buffer;
      if (!this.headerPart.length && chunk.length - at >= HEADER)
        header = chunk.subarray(at, (at += HEADER));
      else {
        const n = Math.min(HEADER - this.headerPart.length, chunk.length - at);
        this.headerPart = Buffer.concat([this.headerPart, chunk.subarray(at, (at += n))]);
        if (this.headerPart.length < HEADER) return;
        header = this.headerPart;
        this.headerPart = NOTHING;
      }
      const type = header[0]!;
      const id = header.readUInt32BE(1);
      const length = header.readUInt32BE(5);
      if (length > MAX_FRAME) return sink.violation(`a frame of ${length} bytes`);
      if (type === FRAME.data) {
        this.dataId = id;
        this.dataLeft = length;
      } else if (chunk.length - at >= length)
        sink.frame(type, id, chunk.subarray(at, (at += length)));
      else this.body = { type, id, length, have: 0, parts: [] };
    }
  }
}
