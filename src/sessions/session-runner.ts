import path from 'node:path';
import type { Duplex } from 'node:stream';
import { RecordingWriter } from './recording.js';
import { relay } from './relay.js';
import type { SessionIdentity, SessionPart } from './resume.js';
import type { SessionEnd } from './session-records.js';
import type { GatewayState, LiveSession } from './gateway-state.js';

/**
 * Running a session whose two legs are paired: relay and record it, log its start, write its
 * record when it ends, and let the drain know (a client whose last session ended moves on).
 */
export class SessionRunner {
  /** Resolves the finishing of sessions, so a stop can wait for their records. */
  private readonly finishing = new Set<Promise<unknown>>();

  constructor(
    private readonly state: GatewayState,
    private readonly ended: (session: LiveSession) => void,
  ) {}

  /**
   * Relay and record a session, or one part of a resumable one (`part`: its record is
   * `<session>.<part>` from the second part on, its recording header says where its bytes
   * start); resolves with how it ended, once its record is written.
   */
  run(
    id: SessionIdentity,
    consoleLeg: Duplex,
    jumpLeg: Duplex,
    part?: SessionPart,
  ): Promise<SessionEnd | undefined> {
    const done = this.relayed(id, consoleLeg, jumpLeg, part);
    this.finishing.add(done);
    void done.finally(() => this.finishing.delete(done));
    return done;
  }

  private async relayed(
    id: SessionIdentity,
    consoleLeg: Duplex,
    jumpLeg: Duplex,
    part?: SessionPart,
  ): Promise<SessionEnd | undefined> {
    const { host, live, legs } = this.state;
    const session: LiveSession = {
      id: id.session,
      representative: id.representative,
      jumpClient: id.jumpClient,
      target: id.target,
      startedAt: Date.now(),
      bytesIn: 0,
      bytesOut: 0,
      ...(part ? { moves: part.moves, pausedMs: part.pausedMs } : {}),
    };
    const recordId = part && part.part > 1 ? `${id.session}.${part.part}` : id.session;
    const header = {
      session: recordId,
      appliance: host.name,
      representative: session.representative,
      jumpClient: session.jumpClient,
      target: session.target,
      startedAt: session.startedAt,
      ...(part ? { resumeOf: id.session, ...part } : {}),
    };
    const file = path.join(host.activeRecordingsDir, `${recordId}.rec`);
    let recording: RecordingWriter;
    try {
      recording = new RecordingWriter(file, header);
    } catch (e) {
      consoleLeg.destroy();
      jumpLeg.destroy();
      host.log('session not started: recording could not be created', { err: String(e) });
      return undefined;
    }
    live.set(session.id, session);
    legs.set(session.id, [consoleLeg, jumpLeg]);
    host.events.record(
      { area: 'login', name: session.representative },
      'session.started',
      session.id,
      {
        jumpClient: session.jumpClient,
        target: session.target,
        appliance: host.name,
        ...(part ? { part: part.part, moves: part.moves, pausedMs: part.pausedMs } : {}),
      },
    );
    const end = await relay(consoleLeg, jumpLeg, recording, session, part !== undefined);
    try {
      const written = await recording.finish();
      await host.records.complete(header, end, file, written);
    } catch (e) {
      // The recording stays in the active directory; the next start turns it into a record.
      host.log('session record not written; kept for recovery at next start', {
        session: session.id,
        err: String(e),
      });
    } finally {
      live.delete(session.id);
      legs.delete(session.id);
      this.ended(session);
    }
    return end;
  }

  /** Cut every live session and wait for their records. */
  async close(): Promise<void> {
    for (const legs of this.state.legs.values()) for (const leg of legs) leg.destroy();
    await Promise.allSettled([...this.finishing]);
  }
}
