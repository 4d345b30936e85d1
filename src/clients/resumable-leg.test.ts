import { afterEach, describe, expect, it } from 'vitest';
import { muxPair } from '../../test/support/mux-pair.js';
import type { MuxStream } from '../sessions/mux.js';
import { sessionsErrors } from '../sessions/error-codes.js';
import { until } from '../shared/until.js';
import { KEEPALIVE_MS, keepaliveTimers, ResumableLeg, SILENT_MS } from './resumable-leg.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const answer = (part: number) => ({
  resume: { session: 's-1', token: `token-${part}`, peerReceived: 0, part },
});

/** A client and an appliance side over a real loopback TCP connection. */
const pair = async (onOpen: (request: { path: string }, stream: MuxStream) => void) =>
  (await muxPair(onOpen, (close) => cleanups.push(close))).client;

describe('ResumableLeg', () => {
  it('takes up a leg that the appliance reset in the tick it accepted it (both frames in one read)', async () => {
    const uncaught: Error[] = [];
    const onUncaught = (e: Error) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    cleanups.push(() => process.off('uncaughtException', onUncaught));
    const legs: MuxStream[] = [];
    const client = await pair((request, stream) => {
      legs.push(stream);
      stream.accept(answer(legs.length));
      // The second leg is paused again at once, as a relay that moves the session right after
      // the part began does: its ACCEPT and RESET leave in one write and arrive in one read.
      if (request.path === 'again' && legs.length === 2)
        stream.destroy(sessionsErrors.SESSION_PAUSED('The session moves.'));
    });
    const first = await client.open({ path: 'first' });
    const reopens: string[] = [];
    const leg = new ResumableLeg(first, 's-1', async (token) => {
      reopens.push(token);
      return client.open({ path: 'again' });
    });
    let text = '';
    leg.on('data', (c: Buffer) => (text += c.toString()));
    leg.on('error', () => undefined);
    // The first part breaks: the leg resumes, is reset at once, and must resume again.
    legs[0]!.destroy(sessionsErrors.SESSION_PAUSED('The session moves.'));
    await until(() => legs.length === 3, 10_000, 'a third leg (the second reset as it began)');
    legs[2]!.write('after the second move');
    await until(
      () => text === 'after the second move',
      10_000,
      `the bytes of the third part (got "${text}", reopened with ${reopens.join(', ')})`,
    );
    expect(reopens).toEqual(['token-1', 'token-2']);
    expect(uncaught).toEqual([]);
    leg.destroy();
  });

  it('delivers the end that came in the same read as the ACCEPT of its leg', async () => {
    const client = await pair((_request, stream) => {
      // Bytes and their end right behind the ACCEPT: one write, one read on the client.
      stream.accept(answer(1));
      stream.write('the last bytes');
      stream.eof('the last bytes'.length);
    });
    const leg = new ResumableLeg(await client.open({ path: 'first' }), 's-1', () =>
      Promise.reject(new Error('no resumption in this case')),
    );
    let text = '';
    let ended = false;
    leg.on('data', (c: Buffer) => (text += c.toString()));
    leg.on('end', () => (ended = true));
    leg.on('error', () => undefined);
    await until(() => ended, 10_000, `the end of the stream (got "${text}")`);
    expect(text).toBe('the last bytes');
    leg.destroy();
  });

  it('beats idle legs from a few timers, their ACKs on one connection in a write per timer', async () => {
    // The appliance relays every ACK to the other end: one write (one TLS record) per leg and
    // beat cost the worker a read and a write per idle session (docs/benchmarks.md, stop 22).
    const LEGS = 250;
    const acks = new Map<number, number>();
    const { client, socket } = await muxPair(
      (_request, stream) => {
        stream.accept({
          resume: { session: `s-${stream.id}`, token: 't', peerReceived: 0, part: 1 },
        });
        stream.on('ack', () => acks.set(stream.id, (acks.get(stream.id) ?? 0) + 1));
      },
      (close) => cleanups.push(close),
    );
    // No leg of an earlier test left beating: the slots below are this test's alone.
    expect(keepaliveTimers()).toBe(0);
    const legs: ResumableLeg[] = [];
    for (let i = 0; i < LEGS; i++) {
      const leg = new ResumableLeg(await client.open({ path: `leg-${i}` }), `s-${i}`, () =>
        Promise.reject(new Error('no resumption in this case')),
      );
      leg.on('error', () => undefined);
      legs.push(leg);
    }
    // 100 legs a timer (each beating its legs in one tick), not a timer per leg.
    const timers = keepaliveTimers();
    expect(timers).toBe(3);
    // The writes of the client's socket from now on: the legs send nothing but keepalives.
    let writes = 0;
    const raw = socket as unknown as Record<'_write' | '_writev', (...a: unknown[]) => void>;
    for (const method of ['_write', '_writev'] as const) {
      const original = raw[method].bind(socket);
      raw[method] = (...a: unknown[]) => {
        writes++;
        original(...a);
      };
    }
    await until(
      () => acks.size === LEGS,
      4 * KEEPALIVE_MS,
      `a keepalive ACK on every leg (${acks.size} of ${LEGS} so far)`,
    );
    // A timer's beat is one write; a few beats may pass on a loaded machine, never a write a leg.
    const beats = Math.max(...acks.values());
    expect(writes).toBeLessThanOrEqual(timers * (beats + 1));
    expect(writes).toBeLessThan(LEGS / 10);
    for (const leg of legs) leg.destroy();
    expect(keepaliveTimers()).toBe(0);
  });

  it('gives up on a leg silent for SILENT_MS, not on one beside it that hears its peer', async () => {
    // The shared keepalive still checks every leg: a frozen relay or cut link is seen in 15-20 s.
    const streams = new Map<string, MuxStream>();
    const { client } = await muxPair(
      (request: { path: string }, stream) => {
        stream.accept(answer(1));
        streams.set(request.path, stream);
      },
      (close) => cleanups.push(close),
    );
    const broke: { path: string; ms: number }[] = [];
    const t0 = Date.now();
    const open = async (path: string) => {
      const leg = new ResumableLeg(await client.open({ path }), 's-1', () => {
        broke.push({ path, ms: Date.now() - t0 });
        return Promise.reject(sessionsErrors.SESSION_ENDED('no resumption in this case'));
      });
      leg.on('error', () => undefined);
      return leg;
    };
    const silent = await open('silent');
    const heard = await open('heard');
    // The other end of `heard` acknowledges as a live peer does; that of `silent` says nothing.
    const peer = setInterval(() => streams.get('heard')?.ack(0), 1_000);
    cleanups.push(() => clearInterval(peer));
    await until(() => broke.length > 0, SILENT_MS + 4 * KEEPALIVE_MS, 'the silent leg to break');
    expect(broke[0]!.path).toBe('silent');
    expect(broke[0]!.ms).toBeGreaterThanOrEqual(SILENT_MS);
    expect(heard.destroyed).toBe(false);
    silent.destroy();
    heard.destroy();
  }, 120_000);
});
