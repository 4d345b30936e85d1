import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobStore } from './blobs.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'gh-blobs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('adopting a finished file into the blob store', () => {
  it('links it in place without a copy, under its digest, and leaves the file to the caller', async () => {
    const store = new BlobStore(path.join(root, 'store'));
    await store.init();
    const file = path.join(root, 'recording.rec');
    const bytes = Buffer.from('a recording of some session\n'.repeat(1000));
    writeFileSync(file, bytes, { mode: 0o600 });
    const blob = await store.adopt(file);
    store.release(blob.sha256);
    expect(blob).toEqual({
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
    });
    // The same inode: no second gigabyte for a gigabyte recorded.
    expect(statSync(store.pathOf(blob.sha256)).ino).toBe(statSync(file).ino);
    expect(readFileSync(store.pathOf(blob.sha256))).toEqual(bytes);

    // Taken again (a crash before the caller removed it): the blob already there is kept.
    const again = await store.adopt(file);
    store.release(again.sha256);
    expect(again).toEqual(blob);
    await store.close();
  });

  it('takes the digest its writer made as it wrote, and links the file under it', async () => {
    const store = new BlobStore(path.join(root, 'store-known'));
    await store.init();
    const file = path.join(root, 'hashed-as-written.rec');
    const bytes = Buffer.from('a recording hashed as it was written\n'.repeat(100));
    writeFileSync(file, bytes, { mode: 0o600 });
    const known = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
    const blob = await store.adopt(file, known);
    store.release(blob.sha256);
    expect(blob).toEqual(known);
    expect(statSync(store.pathOf(known.sha256)).ino).toBe(statSync(file).ino);
    await store.close();
  });
});
