import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { GatehouseError } from '../shared/errors.js';
import { MuxReader, type FrameSink } from './mux-reader.js';
import { MuxWriter } from './mux-writer.js';
import {
  connectionLost,
  FRAME,
  GRANT_AT,
  INITIAL_WINDOW,
  problemOf,
  READ_HIGH_WATER,
  WRITE_HIGH_WATER,
  type MuxProblem,
} from './mux-frame.js';
import { sessionsErrors } from './error-codes.js';

/**
 * Session legs as streams over one long-lived connection (mux-frame.ts has the wire format and
 * its limits, mux-reader.ts parses the bytes into frames, mux-writer.ts writes the frames,
 * the streams' DATA in turn). MuxConnection and MuxStream stay in one file: they are the two
 * halves of one flow-control protocol that call each other (a stream's writes and credit go
 * out through its connection; the connection hands each frame to its stream), so apart they
 * would be two files importing each other.
 */
export { FRAME, INITIAL_WINDOW, MAX_FRAME, type MuxProblem } from './mux-frame.js';

export interface MuxOptions {
  /**
   * A stream the peer opens, with the request it sent: answer with `stream.accept()` (now or
   * later) or `stream.refuse(error)`. Without it the peer may open nothing.
   */
  onOpen?: (request: unknown, stream: MuxStream) => void;
  /**
   * Keep a stream writable after the peer's FIN (default false: like a net.Socket, it then ends
   * too, which is how the session legs it replaces behaved and how the relay ends a session).
   */
  allowHalfOpen?: boolean;
}

/** One side of a multiplexed connection over any Duplex (the upgraded TLS socket). */
export class MuxConnection extends EventEmitter implements FrameSink {
  private readonly streams = new Map<number, MuxStream>();
  private readonly opening = new Map<
    number,
    { resolve: (s: MuxStream) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private nextId = 1;
  /** @internal What goes to the socket, and when: its streams send their frames through it. */
  readonly writer: MuxWriter<MuxStream>;
  private closedBecause: string | undefined;

  constructor(
    readonly socket: Duplex,
    private readonly options: MuxOptions = {},
  ) {
    super();
    const reader = new MuxReader(this);
    socket.on('data', (chunk: Buffer) => reader.receive(chunk));
    this.writer = new MuxWriter(socket, this);
    socket.on('end', () => this.close('the peer ended it'));
    socket.on('error', (e) => this.close(e.message, true));
    socket.on('close', () => this.close('connection closed'));
  }

  get closed(): boolean {
    return this.closedBecause !== undefined;
  }

  /** Streams open on this connection. */
  get size(): number {
    return this.streams.size;
  }

  /** Open a stream with `request`; resolves once the peer accepts, rejects with its problem. */
  open(request: object, timeoutMs = 15_000): Promise<MuxStream> {
    if (this.closed) return Promise.reject(connectionLost(this.closedBecause!));
    const id = this.nextId;
    this.nextId += 2;
    const stream = new MuxStream(this, id, this.options.allowHalfOpen);
    this.streams.set(id, stream);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          stream.destroy(
            sessionsErrors.SITE_UNREACHABLE(
              `The appliance did not answer within ${timeoutMs / 1000} s.`,
              { status: 504 },
            ),
          ),
        timeoutMs,
      );
      this.opening.set(id, { resolve, reject, timer });
      stream.on('error', () => undefined);
      this.writer.send(FRAME.open, id, Buffer.from(JSON.stringify(request)));
    });
  }

  /**
   * Close the connection (frames already sent still leave). Its streams close as sockets do:
   * with a connection error when the connection failed, without one when it simply ended; a
   * stream not yet accepted always fails (a connection error, so a client can retry).
   */
  close(reason = 'closed', failed = false): void {
    if (this.closed) return;
    this.closedBecause = reason;
    if (this.socket.writable) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2_000).unref();
    } else this.socket.destroy();
    this.writer.clear();
    for (const s of [...this.streams.values()])
      s.destroy(failed ? connectionLost(reason) : undefined);
    this.emit('close', reason);
  }

  /** @internal A stream is gone: forget it (and fail its open, if it was not accepted). */
  forget(stream: MuxStream, error: Error | null): void {
    this.streams.delete(stream.id);
    this.writer.forget(stream);
    const opening = this.opening.get(stream.id);
    if (!opening) return;
    this.opening.delete(stream.id);
    clearTimeout(opening.timer);
    opening.reject(error ?? connectionLost('the stream closed before it was accepted'));
  }

  /** @internal The MuxReader's: a frame that breaks the protocol closes the connection. */
  violation(what: string): void {
    this.close(`protocol violation: ${what}`, true);
  }

  /** @internal The MuxReader's: DATA for a stream. */
  data(id: number, piece: Buffer): void {
    // Data for a stream this side already reset may still be on its way: ignored.
    const stream = this.streams.get(id);
    if (stream && !stream.received(piece)) this.violation(`stream ${id} sent more than its credit`);
  }

  /** @internal The MuxReader's: any other frame, whole. */
  frame(type: number, id: number, payload: Buffer): void {
    const stream = this.streams.get(id);
    switch (type) {
      case FRAME.open: {
        if (!this.options.onOpen || id % 2 === 0 || stream)
          return this.violation(`an unexpected open of stream ${id}`);
        let request: unknown;
        try {
          request = JSON.parse(payload.toString('utf8'));
        } catch {
          return this.violation('an open request that is not JSON');
        }
        const opened = new MuxStream(this, id, this.options.allowHalfOpen);
        this.streams.set(id, opened);
        try {
          this.options.onOpen(request, opened);
        } catch (e) {
          opened.refuse(e as Error);
        }
        return;
      }
      case FRAME.accept: {
        const opening = this.opening.get(id);
        if (!opening || !stream) return this.violation(`an unexpected accept of stream ${id}`);
        this.opening.delete(id);
        clearTimeout(opening.timer);
        // The stream keeps its no-op error listener: a RESET in the same read as the ACCEPT
        // destroys it before the opener's continuation attaches its own (an 'error' without a
        // listener would be thrown). The opener learns of it from `closed` and `errored`.
        if (payload.length) {
          try {
            stream.acceptInfo = JSON.parse(payload.toString('utf8'));
          } catch {
            return this.violation('an accept whose answer is not JSON');
          }
        }
        return opening.resolve(stream);
      }
      case FRAME.window:
        if (payload.length !== 4) return this.violation('a window frame without its credit');
        return stream?.credited(payload.readUInt32BE(0));
      case FRAME.fin:
        return stream?.finished();
      case FRAME.ack:
      case FRAME.eof: {
        if (payload.length !== 8) return this.violation('an ack or eof frame without its offset');
        if (!stream) return;
        const offset = Number(payload.readBigUInt64BE(0));
        // Kept too: one in the same read as the ACCEPT comes before the opener listens.
        if (type === FRAME.ack) stream.peerAck = offset;
        else stream.peerEof = offset;
        return void stream.emit(type === FRAME.ack ? 'ack' : 'eof', offset);
      }
      case FRAME.reset: {
        if (!stream) return;
        let problem: MuxProblem | undefined;
        try {
          problem = payload.length
            ? (JSON.parse(payload.toString('utf8')) as MuxProblem)
            : undefined;
        } catch {
          return this.violation('a reset whose problem is not JSON');
        }
        return stream.wasReset(problem);
      }
      default:
        return this.violation(`a frame of unknown type ${type}`);
    }
  }
}

/**
 * One stream of a MuxConnection, used like a socket: `end()` half-closes (FIN), `destroy()`
 * resets (RESET, with the error's problem), and it emits 'close' once both directions are done.
 */
export class MuxStream extends Duplex {
  private sendCredit = INITIAL_WINDOW;
  /** Bytes received and not yet granted back to the peer. */
  private unGranted = 0;
  private blocked: { chunk: Buffer; callback: (e?: Error | null) => void } | undefined;
  private accepted = false;
  private finSent = false;
  private finReceived = false;
  private resetReceived = false;
  private refusal: MuxProblem | undefined;
  /** What the peer answered with its ACCEPT (a resumable leg's token and offsets), if anything. */
  acceptInfo: unknown;
  /**
   * The last ACK and the EOF the peer sent (also emitted as 'ack' and 'eof'): frames that came
   * in the same read as the ACCEPT were emitted before the opener could listen.
   */
  peerAck: number | undefined;
  peerEof: number | undefined;

  constructor(
    private readonly mux: MuxConnection,
    readonly id: number,
    allowHalfOpen = false,
  ) {
    super({
      readableHighWaterMark: READ_HIGH_WATER,
      writableHighWaterMark: WRITE_HIGH_WATER,
      allowHalfOpen,
    });
  }

  /** Answer the peer's open (with `info` for it, as JSON): the stream carries bytes from now on. */
  accept(info?: object): void {
    if (this.accepted || this.destroyed) return;
    this.accepted = true;
    this.mux.writer.send(FRAME.accept, this.id, info && Buffer.from(JSON.stringify(info)));
  }

  /**
   * Tell the peer how many bytes of the session this side holds (a resumable leg, see
   * docs/clients.md): an ACK frame, emitted as 'ack' on the peer's stream. Sent only on legs
   * whose open negotiated resumption: a peer of the previous release closes on an unknown type.
   */
  ack(offset: number): void {
    this.sendOffset(FRAME.ack, offset);
  }

  /**
   * Tell the peer that this side's stream of the session ends at `offset` (a resumable leg's
   * half-close): an EOF frame, emitted as 'eof' on the peer's stream. Unlike FIN it does not end
   * the stream: the session's end must survive a resumption (the FIN of a leg does not), so the
   * end is a place in the session's bytes the receiver reaches, and acknowledges, as any byte.
   */
  eof(offset: number): void {
    this.sendOffset(FRAME.eof, offset);
  }

  private sendOffset(type: number, offset: number): void {
    if (this.destroyed) return;
    const payload = Buffer.allocUnsafe(8);
    payload.writeBigUInt64BE(BigInt(offset), 0);
    this.mux.writer.send(type, this.id, payload);
  }

  /** Answer the peer's open (or end the stream) with a problem the peer reports. */
  refuse(error: Error): void {
    this.refusal = problemOf(error);
    this.destroy();
  }

  /** @internal DATA from the peer; false when it exceeds the credit granted. */
  received(payload: Buffer): boolean {
    if (this.finReceived) return false;
    this.unGranted += payload.length;
    if (this.unGranted > INITIAL_WINDOW) return false;
    // The payload may be a view into a larger chunk: the chunk lives until this is read.
    this.push(payload);
    return true;
  }

  /** @internal WINDOW from the peer. */
  credited(bytes: number): void {
    this.sendCredit += bytes;
    if (this.blocked) this.mux.writer.schedule(this);
  }

  /** @internal FIN from the peer. */
  finished(): void {
    if (this.finReceived) return;
    this.finReceived = true;
    this.push(null);
    // As a socket does at EOF: 'end' (and so 'close') even when nobody reads (e.g. unpiped).
    this.read(0);
  }

  /** @internal RESET from the peer. */
  wasReset(problem: MuxProblem | undefined): void {
    this.resetReceived = true;
    this.destroy(problem && new GatehouseError(problem.code, problem.status, problem.detail));
  }

  override _read(): void {
    const consumed = this.unGranted - this.readableLength;
    if (consumed < GRANT_AT) return;
    this.unGranted -= consumed;
    const credit = Buffer.allocUnsafe(4);
    credit.writeUInt32BE(consumed, 0);
    this.mux.writer.send(FRAME.window, this.id, credit);
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (e?: Error | null) => void,
  ): void {
    if (!chunk.length) return callback();
    this.blocked = { chunk, callback };
    if (this.sendCredit > 0) this.mux.writer.schedule(this);
  }

  override _final(callback: (e?: Error | null) => void): void {
    this.finSent = true;
    this.mux.writer.send(FRAME.fin, this.id);
    callback();
  }

  override _destroy(error: Error | null, callback: (e?: Error | null) => void): void {
    this.blocked = undefined;
    const clean = this.finSent && this.finReceived;
    if (!this.resetReceived && !clean && !this.mux.closed) {
      const problem = this.refusal ?? (error ? problemOf(error) : undefined);
      this.mux.writer.send(
        FRAME.reset,
        this.id,
        problem ? Buffer.from(JSON.stringify(problem)) : undefined,
      );
    }
    this.mux.forget(this, error);
    callback(error);
  }

  /**
   * @internal The connection's turn for this stream (MuxWriter.pump): one DATA frame of at
   * most `max` bytes, as the credit allows. The write completes once all of its chunk is handed
   * to the connection. True while the stream has more to send and credit for it.
   */
  sendSlice(max: number): boolean {
    const b = this.blocked;
    if (!b || this.destroyed || this.sendCredit <= 0) return false;
    const n = Math.min(b.chunk.length, this.sendCredit, max);
    this.sendCredit -= n;
    this.mux.writer.send(FRAME.data, this.id, b.chunk.subarray(0, n));
    b.chunk = b.chunk.subarray(n);
    if (b.chunk.length) return this.sendCredit > 0;
    this.blocked = undefined;
    // May call _write with the next chunk at once, which schedules this stream again.
    b.callback();
    return this.blocked !== undefined && this.sendCredit > 0;
  }
}
