import { afterEach, describe, expect, it } from 'vitest';
import { ResumableLeg } from '../clients/resumable-leg.js';
import { until } from '../shared/until.js';
import { sessionsErrors } from './error-codes.js';
import { muxPair } from '../../test/support/mux-pair.js';
import type { MuxStream } from './mux.js';
import { SessionResumption, type ResumeClaims } from './resume.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

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

interface Request {
  path: string;
  resume?: { received: number; pausedMs: number };
}

/** A client and an appliance side over a real loopback TCP connection. */
const pair = async (onOpen: (request: Request, stream: MuxStream) => void) =>
  (await muxPair(onOpen, (close) => cleanups.push(close))).client;

describe('SessionResumption', () => {
  it('refuses a leg waiting here for a session whose Jump Client is away in a planned move (409 SESSION_PAUSED, over the wire), keeps one whose Jump Client is not, and the client asks again', async () => {
    const reason = 'this appliance became the failover backup';
    const resumption = new SessionResumption({
      interApplianceKey: () => 'k'.repeat(40),
      windowMs: 120_000,
      runPart: () => new Promise(() => undefined),
      refused: () => undefined,
    });
    cleanups.push(() => resumption.close());
    // The appliance side: the session's first leg is accepted as resumable; a leg back with its
    // resume token goes to the real SessionResumption, where it waits for the console's.
    const firsts: MuxStream[] = [];
    const back: MuxStream[] = [];
    const client = await pair((request, stream) => {
      if (request.path === 'first') {
        firsts.push(stream);
        stream.accept({ resume: { session: 's-1', token: 'token-1', peerReceived: 0, part: 1 } });
        return;
      }
      back.push(stream);
      resumption.returned(claims('jump-client:db-01'), 'jump', stream, request.resume!.received);
    });
    // The Jump Client's side: the real ResumableLeg, reopening over the same connection.
    const refusals: (Error & { code?: string; status?: number })[] = [];
    const lines: string[] = [];
    const leg = new ResumableLeg(
      await client.open({ path: 'first' }),
      's-1',
      async (_token, resume, timeoutMs) => {
        try {
          return await client.open({ path: 'again', resume }, timeoutMs);
        } catch (e) {
          refusals.push(e as Error);
          throw e;
        }
      },
      { log: (line) => lines.push(line) },
    );
    leg.on('error', () => undefined);
    cleanups.push(() => leg.destroy());
    // The part breaks: the leg comes back here and waits (not accepted) for the console's.
    firsts[0]!.destroy(sessionsErrors.SESSION_PAUSED('The session moves.'));
    await until(() => back.length === 1, 10_000, 'the leg back with its resume token');

    // Its Jump Client is not known to be away: the leg keeps waiting, the session paused here.
    expect(resumption.sendWaitingAway(() => false, reason)).toBe(0);
    expect(resumption.pausedHere()).toEqual({ sessions: 1, waiting: 1 });
    expect(back[0]!.destroyed).toBe(false);

    // It is elsewhere: the leg is refused as moving, and the client's open fails with that problem.
    expect(resumption.sendWaitingAway((name) => name === 'db-01', reason)).toBe(1);
    expect(resumption.pausedHere()).toEqual({ sessions: 1, waiting: 0 });
    await until(() => refusals.length === 1, 10_000, 'the refusal at the client');
    expect(refusals[0]!.code).toBe('SESSION_PAUSED');
    // 409, not 503: RelayConnections.openLeg asks a 503 again at once over a fresh connection to
    // the same appliance; other problems go back to ResumableLeg, which reopens where the site
    // now leads.
    expect(refusals[0]!.status).toBe(409);
    expect(refusals[0]!.message).toContain(`The session moves: ${reason}.`);
    expect(back[0]!.destroyed).toBe(true);

    // Not a final code: the client asks again (here, the same appliance: the only one there is).
    await until(
      () => back.length === 2,
      10_000,
      `the leg back again after the refusal (client log: ${lines.join(' | ')})`,
    );
    expect(leg.destroyed).toBe(false);
    expect(lines.some((l) => l.includes(`not resumed yet (The session moves: ${reason}.)`))).toBe(
      true,
    );
    // And the new leg waits as the first did: the session is still paused here.
    expect(resumption.sendWaitingAway(() => false, reason)).toBe(0);
    expect(resumption.pausedHere()).toEqual({ sessions: 1, waiting: 1 });
    expect(back[1]!.destroyed).toBe(false);
  });
});
