import { describe, expect, it } from 'vitest';
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

  it('refuses arguments that ip -batch reads as syntax (comment, quote, line join, blanks)', async () => {
    const ip = new IpBatch();
    for (const arg of ['lo#x', 'lo"', "lo'", 'lo\\', 'lo\nlink', 'l o', ''])
      await expect(ip.run(['link', 'show', 'dev', arg]), JSON.stringify(arg)).rejects.toThrow(
        /^not an ip argument/,
      );
    await expect(ip.run(['link', 'show', 'dev', 'lo'])).resolves.toBeUndefined();
  });
});
