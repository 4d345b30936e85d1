import { describe, expect, it } from 'vitest';
import { OnePoll, within } from './one-poll.js';

/** A poll that ends when told to, and records what it read when it began. */
function gate() {
  const polls: { read: number; end: () => void }[] = [];
  let setting = 0;
  const poll = () =>
    new Promise<void>((end) => {
      polls.push({ read: setting, end });
    });
  return { polls, poll, set: (v: number) => (setting = v) };
}

describe('one poll of a node at a time', () => {
  it('never runs two at once; a caller while one runs gets the next one, which reads the setting as it is when it begins', async () => {
    const g = gate();
    const one = new OnePoll();
    const a = one.run(g.poll);
    g.set(1);
    const b = one.run(g.poll);
    const c = one.run(g.poll);
    expect(b).toBe(c);
    expect(g.polls.length).toBe(1);
    g.set(2);
    g.polls[0]!.end();
    await a;
    await Promise.resolve();
    expect(g.polls.length).toBe(2);
    // The later poll reads the setting as it is after the first one ended, not as it was.
    expect(g.polls.map((p) => p.read)).toEqual([0, 2]);
    g.polls[1]!.end();
    await b;
    // Idle again: the next caller starts at once.
    void one.run(g.poll);
    expect(g.polls.length).toBe(3);
  });

  it('runs the next poll after one that failed', async () => {
    const one = new OnePoll();
    let fail!: (e: Error) => void;
    const a = one.run(() => new Promise<void>((_, reject) => (fail = reject)));
    let ran = false;
    const b = one.run(async () => {
      ran = true;
    });
    fail(new Error('node unreachable'));
    await expect(a).rejects.toThrow('node unreachable');
    await b;
    expect(ran).toBe(true);
  });
});

describe('a wait bounded by the time left', () => {
  it('gives up on a promise that never settles at the deadline', async () => {
    const t = Date.now();
    expect(await within(new Promise(() => undefined), 100)).toBe(false);
    expect(Date.now() - t).toBeGreaterThanOrEqual(95);
    expect(Date.now() - t).toBeLessThan(2_000);
  });

  it('says so when the promise ends in time, and passes its failure on', async () => {
    expect(await within(Promise.resolve(), 1_000)).toBe(true);
    await expect(within(Promise.reject(new Error('poll failed')), 1_000)).rejects.toThrow(
      'poll failed',
    );
    expect(await within(new Promise(() => undefined), -5)).toBe(false);
  });
});
