import type { Duplex } from 'node:stream';

import { MuxStream } from './mux.js';
import type { Direction, RecordingWriter } from './recording.js';
import type { SessionEnd } from './session-records.js';
import { sessionsErrors } from './error-codes.js';

export interface RelayCounters {
  bytesIn: number;
  bytesOut: number;
}

/** The reason of a part of a resumable session that ended because a leg broke. */
export const PAUSED = 'paused: a leg broke; the clients resume it';

/** Sent to the leg that still stands when the other broke: its client resumes (not final). */
const pausedError = () =>
  sessionsErrors.SESSION_PAUSED('The other side of the session is reconnecting.');

/**
 * Relay one session: bytes flow both ways unchanged, each chunk also appended to the
 * recording. A slow reader (either side, or the disk under the recording) pauses the sender
 * instead of buffering without bound. The session ends when either side closes or fails; the
 * other side is then closed too.
 *
 * A resumable session's legs (`resumable`) also carry each end's acknowledgements and the end
 * of each direction (EOF, a half-close), passed on to the other end. Their clients close a leg
 * (FIN) only once both directions ended and were acknowledged: the session's clean end. A leg
 * that closes without its FIN broke: the other leg is reset with SESSION_PAUSED (its client
 * resumes too) and the part ends with the reason PAUSED; one reset with SESSION_ENDED was let
 * go of by its client, and the session ends.
 */
export function relay(
  consoleLeg: Duplex,
  jumpLeg: Duplex,
  recording: RecordingWriter,
  counters: RelayCounters,
  resumable = false,
): Promise<SessionEnd> {
  return new Promise((resolve) => {
    let reason: string | undefined;
    let closed = 0;
    const fail = (why: string, final = true) => {
      reason ??= why;
      // A resumable session's clients are told whether to resume or to end (not a bare reset).
      const error = !resumable
        ? undefined
        : final
          ? sessionsErrors.SESSION_ENDED(`The session ended: ${why}.`, { status: 502 })
          : pausedError();
      consoleLeg.destroy(error);
      jumpLeg.destroy(error);
    };
    // No byte goes on unrecorded once the recording cannot be written.
    recording.onError((e) => fail(`recording failed: ${e.message}`));
    const pump = (src: Duplex, dst: Duplex, direction: Direction) => {
      let waiting = 0;
      let ended = false;
      const resume = () => {
        if (--waiting === 0) src.resume();
      };
      src.on('data', (chunk: Buffer) => {
        if (direction === 'to-target') counters.bytesOut += chunk.length;
        else counters.bytesIn += chunk.length;
        if (!recording.append(direction, chunk)) {
          waiting++;
          recording.onDrain(resume);
        }
        if (!dst.write(chunk)) {
          waiting++;
          dst.once('drain', resume);
        }
        if (waiting) src.pause();
      });
      src.on('end', () => (ended = true));
      if (resumable && src instanceof MuxStream && dst instanceof MuxStream) {
        src.on('ack', (offset: number) => dst.ack(offset));
        src.on('eof', (offset: number) => dst.eof(offset));
      }
      const side = direction === 'to-target' ? 'console' : 'remote';
      src.on('error', (e) =>
        // A resumable leg's client that let go of the session says so: it ends, not pauses.
        resumable && (e as { code?: string }).code !== 'SESSION_ENDED'
          ? fail(PAUSED, false)
          : fail(`${side} side failed: ${e.message}`),
      );
      src.on('close', () => {
        if (resumable && !ended && reason === undefined) fail(PAUSED, false);
        reason ??= 'closed';
        // What this side sent is still delivered to the other, which then closes too.
        dst.end();
        setTimeout(() => dst.destroy(), 5_000).unref();
        if (++closed === 2)
          resolve({ endedAt: Date.now(), ...counters, reason: reason ?? 'closed' });
      });
    };
    pump(consoleLeg, jumpLeg, 'to-target');
    pump(jumpLeg, consoleLeg, 'from-target');
  });
}
