import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../shared/errors.js';
import { FOLLOW_BEAT_MS } from '../shared/move-retry.js';
import { JumpClientReconnect } from './jump-client-reconnect.js';

/** An appliance's answer as the site API turns it into an error (admin-client's toError). */
const answer = (code: string, retryAfter: string) =>
  new GatehouseError(code, 503, 'The appliance is installing a software update.', {
    headers: { 'retry-after': retryAfter },
  });
const asJumpClient = { customer: false, moved: false };

describe('JumpClientReconnect', () => {
  it('follows an install that moved it at the fast beat, not after the Retry-After of 30 s meant for changes', () => {
    const reconnect = new JumpClientReconnect();
    reconnect.moved();
    for (const code of ['UPDATE_IN_PROGRESS', 'UPDATE_VERIFYING']) {
      const after = reconnect.afterFailure(answer(code, '30'), asJumpClient);
      expect(after.stop).toBe(false);
      expect(after.stop === false && after.wait).toBeLessThanOrEqual(FOLLOW_BEAT_MS * 1.5);
    }
    // Nor does a session waiting for the control connection wait for the Retry-After.
    expect(reconnect.forSession()).toBeLessThanOrEqual(FOLLOW_BEAT_MS * 1.5);
  });

  it('gives an installing appliance its Retry-After when no move is being followed', () => {
    const reconnect = new JumpClientReconnect();
    const after = reconnect.afterFailure(answer('UPDATE_IN_PROGRESS', '30'), asJumpClient);
    // 30 s spread over ±10 %.
    expect(after.stop === false && after.wait).toBeGreaterThanOrEqual(27_000);
    expect(reconnect.forSession()).toBeGreaterThanOrEqual(26_000);
  });
});
