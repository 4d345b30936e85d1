import type { Duplex } from 'node:stream';
import { tickCorker } from '../shared/streams.js';
import { CONNECTION_BUFFER, FRAME, HEADER, LONE_FRAME, SLICE } from './mux-frame.js';

/** How often a pump waiting with no DATA write in flight looks at the socket's buffer again. */
const LOOK_AGAIN_MS = 20;

/** What the writer asks of a stream with DATA to send (MuxStream.sendSlice). */
export interface SliceSender {
  /** Send one DATA frame of at most `max` bytes; true while it has more to send and credit. */
  sendSlice(max: number): boolean;
}

/**
 * What a MuxConnection writes to its socket, and when: every frame but DATA at once (they are
 * small), DATA of the streams in turn, in slices (see pump()).
 */
export class MuxWriter<S extends SliceSender> {
  /** Frames of one tick leave in one write (one TLS record and system call, not two per frame). */
  private readonly hold: () => void;
  /**
   * Streams with DATA to send and credit for it, in turn (a Set keeps insertion order): each
   * sends one SLICE (one LONE_FRAME when no other waits), then goes to the back. See pump().
   */
  private readonly ready = new Set<S>();
  private pumping = false;
  /**
   * pump() stopped for the buffer with no 'drain' to come (see pump()): the completion of a
   * DATA write already queued (`written`) calls it again.
   */
  private waiting = false;
  /** DATA writes handed to the socket whose callback has not come yet (see `written`). */
  private dataInFlight = 0;
  /** Looks again after LOOK_AGAIN_MS when no DATA write is left to call pump() (see lookLater). */
  private lookTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Duplex,
    private readonly connection: { readonly closed: boolean },
  ) {
    this.hold = tickCorker(socket);
    socket.on('drain', () => this.pump());
  }

  /**
   * Write one frame now; the frames of one tick leave together (see tickCorker). Every frame
   * but DATA goes straight to the socket, ahead of DATA still waiting its turn in `ready`;
   * DATA is written only in its stream's turn (pump(), through S.sendSlice).
   */
  send(type: number, id: number, payload?: Buffer): void {
    if (this.connection.closed) return;
    this.hold();
    const header = Buffer.allocUnsafe(HEADER);
    header[0] = type;
    header.writeUInt32BE(id, 1);
    header.writeUInt32BE(payload?.length ?? 0, 5);
    this.socket.write(header);
    if (!payload?.length) return;
    if (type !== FRAME.data) this.socket.write(payload);
    else {
      this.dataInFlight++;
      this.socket.write(payload, this.written);
    }
  }

  /** A DATA frame left for the kernel, and all written before it: the buffer may be below. */
  private readonly written = (error?: Error | null): void => {
    this.dataInFlight--;
    if (error || !this.waiting) return;
    if (this.socket.writableLength >= CONNECTION_BUFFER) this.lookLater();
    else {
      this.waiting = false;
      this.pump();
    }
  };

  /**
   * Waiting with no DATA write left whose completion would call pump(): what fills the buffer
   * is other frames only (none of today's frames is large, so this is a safety net). Look again
   * every LOOK_AGAIN_MS until the buffer is below its limit: a few looks a second, not a busy loop.
   */
  private lookLater(): void {
    if (this.dataInFlight > 0 || this.lookTimer || this.connection.closed) return;
    this.lookTimer = setTimeout(() => {
      this.lookTimer = undefined;
      if (!this.waiting || this.connection.closed) return;
      if (this.socket.writableLength >= CONNECTION_BUFFER) return this.lookLater();
      this.waiting = false;
      this.pump();
    }, LOOK_AGAIN_MS);
    this.lookTimer.unref();
  }

  /** `stream` has DATA to send and credit for it: it takes its turn. */
  schedule(stream: S): void {
    this.ready.add(stream);
    this.pump();
  }

  /** `stream` is gone: it has no turn any more. */
  forget(stream: S): void {
    this.ready.delete(stream);
  }

  /** The connection closed: no stream has a turn any more. */
  clear(): void {
    this.ready.clear();
    clearTimeout(this.lookTimer);
    this.lookTimer = undefined;
  }

  /**
   * Hand DATA to the socket, one SLICE of each ready stream in turn, while the socket holds
   * less than CONNECTION_BUFFER unsent; the socket's 'drain' calls it again. So the bytes ahead
   * of a stream's next frame are at most that buffer, one slice, and one slice of each other
   * ready stream, however much a bulk stream has credit for: an interactive session's few bytes
   * do not queue behind megabytes of a copy on the same connection (docs/clients.md,
   * "Scheduling"). A stream alone in the queue sends frames of up to LONE_FRAME instead, up to
   * the buffer's limit: slicing it would only cost frames and rounds.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (
        !this.connection.closed &&
        this.ready.size &&
        this.socket.writableLength < CONNECTION_BUFFER
      ) {
        const stream = this.ready.values().next().value as S;
        // A lone stream's frame ends at the buffer's limit (or is one SLICE): a frame coming
        // next waits behind no more than after a sliced stream's.
        const lone = Math.max(SLICE, CONNECTION_BUFFER - this.socket.writableLength);
        const max = this.ready.size === 1 ? Math.min(LONE_FRAME, lone) : SLICE;
        this.ready.delete(stream);
        // A stream whose write completed may have been given its next chunk meanwhile.
        if (stream.sendSlice(max)) this.ready.add(stream);
      }
    } finally {
      this.pumping = false;
    }
    // Stopped for the buffer without a write having said wait (a socket whose high-water mark
    // is above CONNECTION_BUFFER): no 'drain' will come. Nor is looking again at every turn of
    // the event loop a way (a busy loop for as long as the peer reads nothing): the buffer
    // shrinks only as writes complete, and the DATA written last completes once the buffer
    // holds no more than the small frames written since, so its callback looks again.
    // With no DATA write left to complete (only other frames fill the buffer), lookLater.
    this.waiting = this.ready.size > 0 && !this.connection.closed && !this.socket.writableNeedDrain;
    if (this.waiting) this.lookLater();
  }
}
