import { describe, expect, it } from 'vitest';
import { LeaseRequest, WitnessLeases } from './witness-leases.js';

const ask = (generation: number, extra: Partial<LeaseRequest> = {}) =>
  LeaseRequest.parse({ pair: ['b', 'a'], generation, leaseMs: 1_000, ...extra });

describe('the witness keeps what a primary acknowledged alone', () => {
  it('grants the lease to a backup only once it shows a sync from the holder that far', () => {
    let now = 0;
    const leases = new WitnessLeases({}, () => now);
    expect(leases.request('a', ask(1)).granted).toBe(true);
    // The holder acknowledged its changes up to 7 while its backup was cut off: kept on disk.
    const marked = leases.request('a', ask(1, { alone: 7 }));
    expect(marked).toMatchObject({ granted: true, changed: true, newHolder: false });
    expect(leases.held()['a + b']).toMatchObject({ holder: 'a', alone: 7 });
    // A lower mark in a later renewal lowers nothing.
    expect(leases.request('a', ask(1, { alone: 3 })).changed).toBe(false);

    now = 5_000; // the holder stopped renewing
    const none = leases.request('b', ask(2));
    expect(none).toMatchObject({ granted: false, refusal: 'behind' });
    expect(none.reason).toMatch(
      /"a" acknowledged changes up to its change 7 .* "b" has shown no sync from "a"/,
    );
    const short = leases.request('b', ask(2, { synced: { from: 'a', changes: 6 } }));
    expect(short).toMatchObject({ granted: false, refusal: 'behind' });
    expect(short.reason).toMatch(/synced only up to its change 6/);
    // A position of another appliance proves nothing about "a"'s changes.
    expect(leases.request('b', ask(2, { synced: { from: 'c', changes: 99 } })).granted).toBe(false);

    const granted = leases.request('b', ask(2, { synced: { from: 'a', changes: 7 } }));
    expect(granted).toMatchObject({ granted: true, newHolder: true });
    // The new holder's term starts without marks: "a" returning as backup needs no sync of "b".
    expect(leases.held()['a + b']).toEqual({ holder: 'b', generation: 2, leaseMs: 1_000 });
  });

  it('refuses a backup while the holder renews, whatever it synced, and says why', () => {
    let now = 0;
    const leases = new WitnessLeases({}, () => now);
    leases.request('a', ask(1, { alone: 2 }));
    now = 500;
    const held = leases.request('b', ask(2, { synced: { from: 'a', changes: 9 } }));
    expect(held).toMatchObject({ granted: false, refusal: 'held', remainingMs: 500 });
  });

  it('keeps the mark across a restart of the witness', () => {
    let now = 0;
    const first = new WitnessLeases({}, () => now);
    first.request('a', ask(1, { alone: 4 }));
    const restarted = new WitnessLeases(first.held(), () => now);
    now = 2_000;
    expect(restarted.request('b', ask(2)).refusal).toBe('behind');
    expect(restarted.request('b', ask(2, { synced: { from: 'a', changes: 4 } })).granted).toBe(
      true,
    );
  });
});
