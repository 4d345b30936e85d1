import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { until } from '../shared/until.js';
import { armArping } from './arping.js';

const execFileP = promisify(execFile);

/** Pid of the shell waiting with arping arguments ending in `address`, if one runs. */
const waitingFor = (address: string) =>
  execFileP('pgrep', ['-f', `arping -U -c 3 -I lo ${address.replace(/\./g, '\\.')}$`]).then(
    (r) => Number(r.stdout.trim().split('\n')[0]),
    () => undefined,
  );

it('ends the shell waiting with the old arguments when the shared address changes', async () => {
  // Random addresses (198.18.0.0/15): no other test's shell matches. The shells only wait in
  // `read`; arping never runs.
  const old = `198.18.${randomInt(1, 250)}.${randomInt(1, 250)}`;
  const now = `198.19.${randomInt(1, 250)}.${randomInt(1, 250)}`;
  try {
    armArping(['-U', '-c', '3', '-I', 'lo', old]);
    await until(() => waitingFor(old), 10_000, 'the shell waiting for the old address');
    armArping(['-U', '-c', '3', '-I', 'lo', now]);
    await until(() => waitingFor(now), 10_000, 'the shell waiting for the new address');
    await until(async () => (await waitingFor(old)) === undefined, 10_000, 'the old shell to end');
    expect(await waitingFor(now)).toBeGreaterThan(0);
  } finally {
    for (const a of [old, now]) {
      const pid = await waitingFor(a);
      if (pid) process.kill(pid);
    }
  }
});
