import type { Duplex } from 'node:stream';
import type { Direction, RecordingWriter } from './recording.js';
import type { SessionEnd } from './session-records.js';

export interface RelayCounters {
  bytesIn: number;
  bytesOut: number;
}

/**
 * Relay one session: bytes flow both ways unchanged, each chunk also appended to the
 * recording. A slow reader (either side, or the disk under the recording) pauses the sender
 * instead of buffering without bound. The session ends when either side closes or fails; the
 * other side is then closed too.
 */
export function relay(
  consoleLeg: Duplex,
  jumpLeg: Duplex,
  recording: RecordingWriter,
  counters: RelayCounters,
): Promise<SessionEnd> {
  return new Promise((resolve) => {
    let reason: string | undefined;
    let closed = 0;
    const fail = (why: string) => {
      reason ??= why;
      consoleLeg.destroy();
      jumpLeg.destroy();
    };
    // No byte goes on unrecorded once the recording cannot be written.
    recording.onError((e) => fail(`recording failed: ${e.message}`));
    const pump = (src: Duplex, dst: Duplex, direction: Direction) => {
      let waiting = 0;
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
      src.on('error', (e) =>
        fail(`${direction === 'to-target' ? 'console' : 'remote'} side failed: ${e.message}`),
      );
      src.on('close', () => {
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
