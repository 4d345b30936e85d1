import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { until } from '../shared/until.js';
import { IpBatch } from './ip-batch.js';

/*
 * The real `ip` in this process's namespace, on commands that change nothing: one that ip
 * cannot parse (and so exits on, before any netlink request), and `link show dev lo`.
 */
describe('IpBatch', () => {
  it('keeps the reason of an error that ends ip, and fails the commands queued after it as not run', async () => {
    const ip = new IpBatch();
    const bad = ip.run(['addr', 'add', '198.18.0.1/33', 'dev', 'lo']);
    const queued = ip.run(['link', 'show', 'dev', 'lo']);
    const [b, q] = await Promise.allSettled([bad, queued]);
    expect(b.status).toBe('rejected');
    const e = (b as PromiseRejectedResult).reason as Error & { stderr?: string };
    expect(e.message).toMatch(/any valid prefix is expected rather than "198\.18\.0\.1\/33"/);
    expect(e.stderr).toMatch(/any valid prefix/);
    expect(q.status).toBe('rejected');
    expect(((q as PromiseRejectedResult).reason as Error).message).toMatch(
      /^not run: ip ended on the command before it \(ip addr add 198\.18\.0\.1\/33 dev lo/,
    );
    // ip starts again for the next command.
    await expect(ip.run(['link', 'show', 'dev', 'lo'])).resolves.toBeUndefined();
  });

  it("never gives an ended ip's late output to the commands of the ip started after it", async () => {
    const ip = new IpBatch();
    ip.ready();
    const pid = await until(
      () => Number(execFileSync('pgrep', ['-n', '-P', String(process.pid), '-x', 'ip']) || 0),
      10_000,
      'ip to start',
    );
    const nowhere = ['link', 'show', 'dev', 'gatehouse-none0'];
    // What ip writes to stderr for that command and its sync line (lines 1 and 2).
    const said =
      'Device "gatehouse-none0" does not exist.\nCommand failed -:1\n' +
      'Device "gatehouse-ip-batch-sync" does not exist.\nCommand failed -:2\n';
    const wrote = () => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
    let next: Promise<string> | undefined;
    const first = ip.run(nowhere, 1).catch(() => {
      // Right after the timeout replaced ip, before this process reads what the old one said.
      next = ip.run(['addr', 'add', '198.18.0.1/33', 'dev', 'lo']).then(
        () => 'done',
        (e: Error) => e.message,
      );
    });
    // Block until the old ip has answered, so its answer waits in the pipe until the timeout.
    const deadline = Date.now() + 10_000;
    while (wrote() < said.length && Date.now() < deadline);
    expect(wrote()).toBeGreaterThanOrEqual(said.length);
    await first;
    // Its own error, not the old ip's answer to line 1 or 2 (taken as its error, or as done).
    expect(await next).toMatch(/any valid prefix is expected/);
  });

  it('refuses arguments that ip -batch reads as syntax (comment, quote, line join, blanks)', async () => {
    const ip = new IpBatch();
    for (const arg of ['lo#x', 'lo"', "lo'", 'lo\\', 'lo\nlink', 'l o', ''])
      await expect(ip.run(['link', 'show', 'dev', arg]), JSON.stringify(arg)).rejects.toThrow(
        /^not an ip argument/,
      );
    await expect(ip.run(['link', 'show', 'dev', 'lo'])).resolves.toBeUndefined();
  });
});
