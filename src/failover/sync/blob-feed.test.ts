import { describe, expect, it } from 'vitest';
import { BlobFeed } from './blob-feed.js';

describe('the blob feed between rows arriving and bulk blob requests', () => {
  it('hands out full batches while rows arrive and the rest once they ended', async () => {
    const feed = new BlobFeed(3);
    const taken: string[][] = [];
    const reader = (async () => {
      for (let b = await feed.next(); b; b = await feed.next()) taken.push(b);
    })();
    feed.push(['a', 'b']);
    feed.push(['c', 'd']);
    await new Promise((r) => setTimeout(r, 10));
    expect(taken).toEqual([['a', 'b', 'c']]);
    feed.push(['e']);
    feed.end();
    await reader;
    expect(taken).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it('asks only for what the filter lets through, in order', async () => {
    const feed = new BlobFeed(10);
    feed.filter = async (shas) => {
      await new Promise((r) => setTimeout(r, shas.includes('slow') ? 20 : 0));
      return shas.filter((s) => s !== 'here');
    };
    feed.push(['slow', 'here']);
    feed.push(['x']);
    feed.end();
    expect(await feed.next()).toEqual(['slow', 'x']);
    expect(await feed.next()).toBeUndefined();
  });

  it('fails every waiting and later request once aborted', async () => {
    const feed = new BlobFeed(2);
    const waiting = feed.next();
    feed.abort(new Error('a bulk request failed'));
    await expect(waiting).rejects.toThrow('a bulk request failed');
    feed.push(['a', 'b']);
    await expect(feed.next()).rejects.toThrow('a bulk request failed');
  });
});
