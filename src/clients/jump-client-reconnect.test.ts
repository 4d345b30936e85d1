import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../shared/errors.js';
import { JumpClientReconnect } from './jump-client-reconnect.js';

/** An appliance's answer as the site API turns it into an error (admin-client's toError). */
const answer = (code: string, retryAfter: string) =>
  new GatehouseError(code, 503, 'The appliance is installing a software update.', {
    headers: { 'retry-after': retryAfter },
  });
const asJumpClient = { customer: false, moved: false };

describe('JumpClientReconnect', () => {
  it('follows an install that moved it at the pace the appliance sets (at most 2 s), not after the Retry-After of 30 s meant for changes', () => {
    const reconnect = new JumpClientReconnect();
    reconnect.moved();
    // An appliance before the gate told clients 2 s asked 30 s: the pace is still at most 2 s.
    for (const [code, retryAfter] of [
      ['UPDATE_IN_PROGRESS', '30'],
      ['UPDATE_IN_PROGRESS', '2'],
      ['UPDATE_VERIFYING', '2'],
    ] as const) {
      const after = reconnect.afterFailure(answer(code, retryAfter), asJumpClient);
      expect(after.stop).toBe(false);
      // 2 s spread over ±25 %.
      expect(after.stop === false && after.wait).toBeLessThanOrEqual(2_500);
      // Nor does a session waiting for the control connection wait for 30 s; it keeps the pace.
      expect(reconnect.forSession()).toBeLessThanOrEqual(2_500);
    }
    // A Retry-After shorter than 2 s is honoured as it is.
    const after = reconnect.afterFailure(answer('UPDATE_IN_PROGRESS', '1'), asJumpClient);
    expect(after.stop === false && after.wait).toBeLessThanOrEqual(1_250);
  });

  it('does not knock at an installing appliance more than about once in 1.5 s while it follows the move', () => {
    const reconnect = new JumpClientReconnect();
    reconnect.moved();
    // The tries a client makes in the 30 s it follows the move (each answered by the install
    // gate): at the fast beat (125-375 ms) they were ~120; at a 2 s pace (1.5-2.5 s) at most 21.
    let tries = 0;
    for (let elapsed = 0; elapsed < 30_000; tries++) {
      const after = reconnect.afterFailure(answer('UPDATE_IN_PROGRESS', '2'), asJumpClient);
      expect(after.stop).toBe(false);
      elapsed += after.stop === false ? after.wait : Infinity;
    }
    expect(tries).toBeLessThanOrEqual(21);
    expect(tries).toBeGreaterThanOrEqual(12);
  });

  it('gives an installing appliance its Retry-After when no move is being followed', () => {
    const reconnect = new JumpClientReconnect();
    const after = reconnect.afterFailure(answer('UPDATE_IN_PROGRESS', '30'), asJumpClient);
    // 30 s spread over ±10 %.
    expect(after.stop === false && after.wait).toBeGreaterThanOrEqual(27_000);
    expect(reconnect.forSession()).toBeGreaterThanOrEqual(26_000);
  });
});
