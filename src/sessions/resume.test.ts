import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { MuxStream } from './mux.js';
import { SessionResumption, type ResumeClaims } from './resume.js';

/** A leg as SessionResumption uses it: what it was refused with, if it was. */
class Leg extends EventEmitter {
  refused: (Error & { code?: string; status?: number }) | undefined;
  refuse(e: Error) {
    this.refused = e;
    this.emit('close');
  }
  destroy() {
    this.emit('close');
  }
  accept() {}
}

const claims = (sub: string): ResumeClaims => ({
  kind: 'resume',
  sub,
  representative: 'rep',
  session: 's-1',
  jumpClient: 'db-01',
  target: '127.0.0.1:22',
  gen: 1,
  paused: 0,
  exp: Date.now() + 60_000,
});

describe('SessionResumption', () => {
  it('sends on a leg waiting here for a session whose Jump Client left in a planned move, and keeps one whose Jump Client is here', () => {
    const resumption = new SessionResumption({
      interApplianceKey: () => 'k'.repeat(40),
      windowMs: 120_000,
      runPart: () => new Promise(() => undefined),
      refused: () => undefined,
    });
    const leg = new Leg();
    resumption.returned(claims('jump-client:db-01'), 'jump', leg as unknown as MuxStream, 10);
    // Its Jump Client is still here: the leg waits for the console's.
    expect(
      resumption.sendWaitingAfter(() => true, 'this appliance became the failover backup'),
    ).toBe(1);
    expect(leg.refused).toBeUndefined();
    // It left: the leg is told that the session moves (not a 503, asked again at the same place).
    resumption.sendWaitingAfter(() => false, 'this appliance became the failover backup');
    expect(leg.refused?.code).toBe('SESSION_PAUSED');
    expect(leg.refused?.status).toBe(409);
    expect(leg.refused?.message).toContain('this appliance became the failover backup');
    resumption.close();
  });
});
