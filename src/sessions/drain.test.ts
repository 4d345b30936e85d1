import { afterEach, describe, expect, it, vi } from 'vitest';
import { muxPair } from '../../test/support/mux-pair.js';
import { until } from '../shared/until.js';
import { FOLLOW_FOR_MS, GatewayDrain, MOVE_AFTER_MS } from './drain.js';
import { GatewayState, type GatewayHost, type Presence } from './gateway-state.js';
import type { MuxStream } from './mux.js';
import { PAUSED } from './relay.js';
import { SessionResumption, type ResumeClaims, type Side } from './resume.js';
import type { SessionEnd } from './session-records.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0)) c();
});

/**
 * The move's clock (its end at FOLLOW_FOR_MS, and any look on a clock) made fake, so a test
 * can pass the move's 30 s at once; the legs' sockets and everything else run on real time.
 */
const fakeClock = () =>
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });

const claims = (side: Side, gen = 1): ResumeClaims => ({
  kind: 'resume',
  sub: side === 'console' ? 'rep' : 'jump-client:db-01',
  representative: 'rep',
  session: 's-1',
  jumpClient: 'db-01',
  target: '127.0.0.1:22',
  gen,
  paused: 0,
  exp: Date.now() + 60_000,
});

/**
 * One appliance's drain and resumable sessions, wired as gateway.ts wires them, with the legs
 * over a real loopback MuxConnection: a leg opened as `console` or `jump` comes back to the
 * real SessionResumption with its resume token.
 */
async function appliance(serves: { clients: boolean; newClients: boolean }) {
  const host = {
    acceptsClients: () => serves.clients,
    acceptsNewClients: () => serves.newClients,
  } as GatewayHost;
  const state = new GatewayState(host);
  const parts: string[] = [];
  /** Ends the last part run (as its record is written), with how it ended. */
  let endPart: (reason: string) => void = () => undefined;
  const resumption: SessionResumption = new SessionResumption({
    interApplianceKey: () => 'k'.repeat(40),
    windowMs: 120_000,
    runPart: (id) => {
      parts.push(id.session);
      return new Promise((resolve) => (endPart = (reason) => resolve({ reason } as SessionEnd)));
    },
    refused: () => undefined,
    waiting: () => queueMicrotask(() => drain.changed()),
  });
  cleanups.push(() => resumption.close());
  const drain = new GatewayDrain(state, {
    sendWaitingAway: (away, reason) => resumption.sendWaitingAway(away, reason),
    pausedHere: () => resumption.pausedHere(),
  });
  const { client } = await muxPair<{ side: Side; gen?: number }>(
    (request, stream) =>
      resumption.returned(claims(request.side, request.gen), request.side, stream, 0),
    (close) => cleanups.push(close),
  );
  /** A leg back with its resume token: resolves accepted or rejects refused. */
  const back = (side: Side, gen = 1): Promise<MuxStream> => {
    const opened = client.open({ side, gen }, 60_000);
    opened.catch(() => undefined); // a test's end closes the connection under a leg waiting
    return opened;
  };
  /** The Jump Client's control connection here (its presence in the map, and a channel told to move). */
  const jumpClient = {
    connects: () =>
      state.jumpClients.set('db-01', {
        channel: { send: () => undefined, close: () => undefined },
      } as unknown as Presence),
    leaves: () => {
      state.jumpClients.delete('db-01');
      drain.changed();
    },
  };
  /** Part s-1 runs with these legs, as the runner lists a resumable part (`moves`). */
  const partRuns = (legs: [MuxStream, MuxStream]) => {
    state.legs.set('s-1', legs);
    state.live.set('s-1', {
      id: 's-1',
      representative: 'rep',
      jumpClient: 'db-01',
      target: '127.0.0.1:22',
      startedAt: Date.now(),
      bytesIn: 0,
      bytesOut: 0,
      moves: 1,
    });
  };
  return {
    state,
    drain,
    resumption,
    parts,
    back,
    jumpClient,
    partRuns,
    endPart: (r: string) => endPart(r),
  };
}

describe('GatewayDrain: a planned move and the legs waiting to be paired', () => {
  it('a leg whose Jump Client reconnects to this same appliance during the move is paired here, not refused; the move looks only on events', async () => {
    const a = await appliance({ clients: true, newClients: true });
    a.jumpClient.connects();
    const console = a.back('console');
    let settled: string | undefined;
    console.then(
      () => (settled = 'accepted'),
      (e: Error & { code?: string }) => (settled = `refused: ${e.code} ${e.message}`),
    );
    await until(() => a.resumption.pausedHere().waiting === 1, 10_000, 'the console leg to wait');

    // An install on a lone appliance: the clients are told to reconnect through the site.
    fakeClock();
    const moved = a.drain.sessionsFollowClients('this appliance is installing a software update');
    let ended = false;
    void moved.then(() => (ended = true));
    // The Jump Client goes, is away 25 s of the move's 30, and comes back here. (The old code,
    // looking every 100 ms, refused the console's leg within 100 ms of its going: not connected
    // here.)
    a.jumpClient.leaves();
    await vi.advanceTimersByTimeAsync(FOLLOW_FOR_MS - 5_000);
    expect(a.resumption.pausedHere()).toEqual({ sessions: 1, waiting: 1 });
    expect(ended).toBe(false);
    vi.useRealTimers();
    expect(settled).toBeUndefined();
    a.jumpClient.connects();
    const jump = await a.back('jump');
    expect((await console).acceptInfo).toMatchObject({ resume: { session: 's-1', part: 2 } });
    expect(jump.acceptInfo).toMatchObject({ resume: { session: 's-1', part: 2 } });
    expect(settled).toBe('accepted');
    expect(a.parts).toEqual(['s-1']);
    expect(ended).toBe(false);
  });

  it('a leg whose Jump Client was sent to another appliance is refused as moving once the client is gone; the move then ends at once', async () => {
    const a = await appliance({ clients: true, newClients: true });
    a.jumpClient.connects();
    const console = a.back('console');
    await until(() => a.resumption.pausedHere().waiting === 1, 10_000, 'the console leg to wait');
    fakeClock();
    const moved = a.drain.sessionsFollowClients('the shared address moved', ['db-01']);
    let ended = false;
    void moved.then(() => (ended = true));
    // Still connected here: it waits.
    expect(a.resumption.pausedHere().waiting).toBe(1);
    a.jumpClient.leaves();
    const refused = await console.then(
      () => undefined,
      (e: Error & { code?: string; status?: number }) => e,
    );
    expect(refused?.code).toBe('SESSION_PAUSED');
    expect(refused?.status).toBe(409);
    expect(refused?.message).toBe('The session moves: the shared address moved.');
    // Paused here, nothing waits, but this appliance still serves: the move keeps listening
    // (a leg may still come back) until a leg does, or FOLLOW_FOR_MS.
    expect(a.resumption.pausedHere()).toEqual({ sessions: 1, waiting: 0 });
    await vi.advanceTimersByTimeAsync(FOLLOW_FOR_MS - 1_000);
    expect(ended).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(ended).toBe(true);
  });

  it('an appliance that serves no more sessions (a node draining) refuses every leg waiting there at once, whatever its Jump Client, and the move ends', async () => {
    const serves = { clients: true, newClients: true };
    const a = await appliance(serves);
    a.jumpClient.connects();
    const console = a.back('console');
    await until(() => a.resumption.pausedHere().waiting === 1, 10_000, 'the console leg to wait');
    const t = Date.now();
    // The primary node set it not accepting, and asked it to drain.
    serves.newClients = false;
    const moved = a.drain.drain();
    const refused = await console.then(
      () => undefined,
      (e: Error & { code?: string; status?: number }) => e,
    );
    expect(refused?.code).toBe('SESSION_PAUSED');
    expect(refused?.status).toBe(409);
    expect(refused?.message).toBe('The session moves: this node is draining.');
    // Nothing runs or waits here, and nothing can come back: the move is over, not at 30 s.
    await moved;
    expect(Date.now() - t).toBeLessThan(10_000);
  });

  it('a leg back while the part it broke still ends (its record being written) is sent on too, and the move waits for that end', async () => {
    const serves = { clients: true, newClients: true };
    const a = await appliance(serves);
    a.jumpClient.connects();
    const [c1, j1] = await Promise.all([a.back('console'), a.back('jump')]);
    expect(a.parts).toEqual(['s-1']);
    // The console's leg broke: its Jump Client's comes back (part 3's token) before the relay
    // of part 2 finished writing its record.
    const jump = a.back('jump', 2);
    await until(
      () => a.resumption.pausedHere().waiting === 1,
      10_000,
      'the Jump Client leg to wait',
    );
    // A part's legs, as the runner lists them while it runs (resumable: `moves`).
    a.partRuns([c1, j1]);
    serves.newClients = false;
    let ended = false;
    const moved = a.drain.drain();
    void moved.then(() => (ended = true));
    const refused = await Promise.race([
      jump.then(
        () => undefined,
        (e: Error & { code?: string; status?: number }) => e,
      ),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error('the waiting leg was not sent on within 10 s')),
          10_000,
        ).unref(),
      ),
    ]);
    expect(refused?.code).toBe('SESSION_PAUSED');
    expect(refused?.status).toBe(409);
    // The part still ends: the move stays until it did.
    expect(ended).toBe(false);
    a.state.legs.delete('s-1');
    const live = a.state.live.get('s-1')!;
    a.state.live.delete('s-1');
    a.endPart(PAUSED);
    a.drain.sessionEnded(live);
    await moved;
    expect(a.resumption.pausedHere()).toEqual({ sessions: 1, waiting: 0 });
  });

  it('a move under way ends when the gateway closes, its end timer cleared', async () => {
    const a = await appliance({ clients: true, newClients: true });
    a.jumpClient.connects();
    void a.back('console');
    await until(() => a.resumption.pausedHere().waiting === 1, 10_000, 'the console leg to wait');
    fakeClock();
    const moved = a.drain.sessionsFollowClients('the shared address moved');
    expect(vi.getTimerCount()).toBe(1); // the move's end, at FOLLOW_FOR_MS
    a.drain.close();
    expect(vi.getTimerCount()).toBe(0);
    await moved;
  });

  /**
   * A resumable session running here (both legs over the loopback connection, listed as the
   * runner lists a running part), its Jump Client connected here; `pauses` counts the drain's
   * pauses of it (each leg destroyed with SESSION_PAUSED).
   */
  async function runningSession(a: Awaited<ReturnType<typeof appliance>>) {
    a.jumpClient.connects();
    const legs = await Promise.all([a.back('console'), a.back('jump')]);
    expect(a.parts).toEqual(['s-1']);
    a.partRuns(legs);
    const paused: string[] = [];
    for (const leg of legs) {
      const destroy = leg.destroy.bind(leg);
      vi.spyOn(leg, 'destroy').mockImplementation((e?: Error & { code?: string }) => {
        paused.push(e?.code ?? 'none');
        return destroy(e);
      });
    }
    return { legs, pauses: () => paused.filter((c) => c === 'SESSION_PAUSED').length / 2 };
  }

  it("a drain cancelled within the second (undrain) does not pause its node's sessions: they go on here", async () => {
    const serves = { clients: true, newClients: true };
    const a = await appliance(serves);
    const s = await runningSession(a);
    fakeClock();
    void a.drain.drain();
    await vi.advanceTimersByTimeAsync(MOVE_AFTER_MS / 2);
    expect(s.pauses()).toBe(0);
    // The administrator sets the node accepting again: the primary node's poll undrains it.
    a.drain.undrain();
    expect(a.state.accepting()).toBe(true);
    await vi.advanceTimersByTimeAsync(MOVE_AFTER_MS * 3);
    expect(s.pauses()).toBe(0);
    expect(s.legs.map((l) => l.destroyed)).toEqual([false, false]);
  });

  it('drain, undrain and drain again within the second: one pause, a second after the last drain', async () => {
    const serves = { clients: true, newClients: true };
    const a = await appliance(serves);
    const s = await runningSession(a);
    fakeClock();
    void a.drain.drain();
    await vi.advanceTimersByTimeAsync(MOVE_AFTER_MS / 2);
    a.drain.undrain();
    await vi.advanceTimersByTimeAsync(MOVE_AFTER_MS / 4);
    void a.drain.drain();
    // A second after the first drain, not yet a second after the last: no pause.
    await vi.advanceTimersByTimeAsync(MOVE_AFTER_MS - 1);
    expect(s.pauses()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.pauses()).toBe(1);
    await vi.advanceTimersByTimeAsync(MOVE_AFTER_MS * 3);
    expect(s.pauses()).toBe(1);
    expect(s.legs.map((l) => l.destroyed)).toEqual([true, true]);
  });

  it("a drain's pause of its sessions a second later does not come once the gateway closes, its timer cleared", async () => {
    const a = await appliance({ clients: true, newClients: false });
    fakeClock();
    // Nothing runs or waits here and the node serves no more: the move ends at once, and only
    // the pause of the resumable sessions, MOVE_AFTER_MS later, is left.
    await a.drain.drain();
    expect(vi.getTimerCount()).toBe(1);
    a.drain.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
