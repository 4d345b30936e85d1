import { describe, expect, it } from 'vitest';
import { Repeating } from './repeat.js';
import { until } from './until.js';

describe('Repeating', () => {
  it('runs the next round at once when asked, not when the old pace said, and never two at once', async () => {
    let rounds = 0;
    let inRound = 0;
    let most = 0;
    let release: () => void = () => undefined;
    const loop = new Repeating(
      async () => {
        rounds++;
        most = Math.max(most, ++inRound);
        // The second round waits to be let go: now() during it must not start another.
        if (rounds === 2) await new Promise<void>((r) => (release = r));
        inRound--;
      },
      () => 60_000,
    );
    try {
      loop.start();
      await until(() => rounds === 1 && inRound === 0, 5_000, 'the first round');
      loop.now();
      await until(() => rounds === 2, 5_000, 'the second round, a minute early');
      loop.now();
      release();
      await until(() => inRound === 0, 5_000, 'the second round to end');
      expect(rounds).toBe(2);
      expect(most).toBe(1);
    } finally {
      loop.stop();
    }
  });
});
