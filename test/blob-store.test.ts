import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The blob store's thread runs compiled code (dist/, built before the tests), as in the appliance.
const { BlobBatch, BlobStore } = (await import(
  fileURLToPath(new URL('../dist/src/store/blobs.js', import.meta.url))
)) as typeof import('../src/store/blobs.js');

const root = mkdtempSync(path.join(os.tmpdir(), 'gh-blob-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('writing blobs given in parts (as a sync receives them)', () => {
  it('stores each whole under its digest, more at once than there are shared slots, and refuses a wrong digest', async () => {
    const store = new BlobStore(path.join(root, 'parts'));
    await store.init();
    const batch = new BlobBatch(store);
    // 100 blobs in flight together: more than the 32 slots, so some wait for a slot to free.
    const blobs = Array.from({ length: 100 }, (_, i) => randomBytes(1 + ((i * 7919) % 200_000)));
    const written = await Promise.all(
      blobs.map((b) => {
        const parts = [b.subarray(0, b.length >> 1), b.subarray(b.length >> 1)];
        return batch.put(parts, { expectedSha256: sha(b) });
      }),
    );
    // The parts are copied, not taken: the caller's bytes are still whole.
    expect(blobs.every((b, i) => written[i]!.sha256 === sha(b))).toBe(true);
    const infos = await batch.flush();
    expect(infos).toHaveLength(100);
    // (equals(), not toEqual: a deep comparison of 10 MB byte by byte takes a minute.)
    for (const b of blobs) expect(readFileSync(store.pathOf(sha(b))).equals(b)).toBe(true);

    // Larger than a slot: copied into a buffer of its own instead.
    const large = randomBytes(3 * 1024 * 1024 + 7);
    const third = large.length / 3;
    await batch.put([large.subarray(0, third), large.subarray(third)], {
      expectedSha256: sha(large),
    });
    await batch.flush();
    expect(readFileSync(store.pathOf(sha(large))).equals(large)).toBe(true);
    store.release(sha(large));

    const damaged = randomBytes(5000);
    await expect(
      batch.put([damaged], { expectedSha256: sha(Buffer.from('something else')) }),
    ).rejects.toMatchObject({ code: 'BLOB_DIGEST_MISMATCH' });
    expect(batch.unflushedCount).toBe(0);
    for (const b of blobs) store.release(sha(b));
    await store.close();
  });
});
