import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../src/failover/history.js';
import { establishPair, startTestAppliance, until } from './support/appliance.js';

const KEY = 'failover-history-key-0123456789abcdefghij';

describe('Management > Failover: status history', () => {
  it('lists role changes and runs of peer status checks over time, newest first, and keeps them across a restart', async () => {
    const [a, b] = await Promise.all([
      startTestAppliance({ name: 'hist-a', interApplianceKey: KEY }),
      startTestAppliance({ name: 'hist-b', interApplianceKey: KEY }),
    ]);
    const history = async (t: typeof a) =>
      (await t.api.call<{ entries: HistoryEntry[] }>('GET', '/api/login/failover/history')).body
        .entries;
    expect(await history(a)).toEqual([]);
    const established = await establishPair(a, b);
    expect(established.status, JSON.stringify(established.body)).toBe(201);

    // The pairing is a role change on each side; then the heartbeats see the peer.
    await until(
      async () => (await history(a)).some((e) => e.kind === 'checks' && e.reachable),
      30_000,
      'a reachable check on A',
    );
    const first = await history(a);
    expect(first.at(-1)).toMatchObject({
      kind: 'role',
      action: 'failover.established',
      role: 'primary',
      peer: 'hist-b',
    });
    expect(first[0]).toMatchObject({ kind: 'checks', reachable: true, peerRole: 'backup' });
    expect((await history(b)).at(-1)).toMatchObject({
      kind: 'role',
      action: 'failover.established',
      role: 'backup',
      peer: 'hist-a',
    });

    // The backup stops: A's checks now see it unreachable, in a new run after the reachable one.
    await b.proc.stop();
    await until(
      async () => {
        const [newest] = await history(a);
        return newest?.kind === 'checks' && !newest.reachable;
      },
      30_000,
      'an unreachable check on A',
    );
    const [down, up] = await history(a);
    expect(down).toMatchObject({ kind: 'checks', reachable: false });
    expect((down as { error: string }).error).toMatch(/^[A-Z_]+$/);
    expect(up).toMatchObject({ kind: 'checks', reachable: true });
    expect((up as { to: number }).to).toBeLessThanOrEqual((down as { from: number }).from);

    // Kept in the appliance's own settings: a restart loses none of it.
    const keyOf = (e: HistoryEntry) => (e.kind === 'role' ? `role ${e.at}` : `checks ${e.from}`);
    const before = (await history(a)).map(keyOf);
    await a.restart();
    expect((await history(a)).map(keyOf)).toEqual(expect.arrayContaining(before));
  }, 120_000);
});
