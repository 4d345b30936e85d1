import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keyId, loadPrivateKey } from '../../shared/crypto.js';
import { readArchive, writeArchive } from './archive.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-archive-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const key = generateEd25519();
const trusted = keyId(key.publicKeyPem);

async function makeArchive(): Promise<string> {
  writeFileSync(path.join(dir, 'a.bin'), Buffer.alloc(700, 1));
  writeFileSync(path.join(dir, 'b.bin'), 'second entry');
  writeFileSync(path.join(dir, 'empty.bin'), '');
  const out = path.join(dir, 'archive.ghb');
  await writeArchive(
    out,
    {
      productVersion: '1.0.0',
      schemaVersion: 1,
      appliance: 'unit',
      createdAt: '2026-11-25T00:00:00.000Z',
      includesRecordings: false,
    },
    [
      { name: 'site.db', file: path.join(dir, 'a.bin') },
      { name: 'blobs/b', file: path.join(dir, 'b.bin') },
      { name: 'blobs/empty', file: path.join(dir, 'empty.bin') },
    ],
    loadPrivateKey(key.privateKeyPem),
    key.publicKeyPem,
  );
  return out;
}

describe('backup archive format', () => {
  it('round-trips every entry byte for byte', async () => {
    const file = await makeArchive();
    const out = path.join(dir, 'out');
    const header = await readArchive(file, out, (id) => id === trusted);
    expect(header.entries.map((e) => e.name)).toEqual(['site.db', 'blobs/b', 'blobs/empty']);
    expect(readFileSync(path.join(out, 'blobs', 'b'), 'utf8')).toBe('second entry');
    expect(readFileSync(path.join(out, 'site.db'))).toEqual(Buffer.alloc(700, 1));
  });

  it('refuses every truncation of the archive, at whatever byte it is cut', async () => {
    const whole = readFileSync(await makeArchive());
    const codes = new Set<string>();
    for (let cut = 0; cut < whole.length; cut += cut < 1200 ? 7 : 53) {
      const f = path.join(dir, 'cut.ghb');
      writeFileSync(f, whole.subarray(0, cut));
      const err = await readArchive(f, path.join(dir, 'cut-out'), (id) => id === trusted).then(
        () => null,
        (e: { code: string }) => e,
      );
      expect(err, `cut at ${cut}`).not.toBeNull();
      codes.add(err!.code);
    }
    expect(
      [...codes].every((c) =>
        ['BACKUP_TRUNCATED', 'BACKUP_NOT_RECOGNISED', 'BACKUP_CORRUPT'].includes(c),
      ),
    ).toBe(true);
    expect(codes.has('BACKUP_TRUNCATED')).toBe(true);
  });

  it('refuses a flipped bit anywhere in the archive', async () => {
    const whole = readFileSync(await makeArchive());
    for (let i = 0; i < whole.length; i += 41) {
      const altered = Buffer.from(whole);
      altered[i] = altered[i]! ^ 0x10;
      const f = path.join(dir, 'flip.ghb');
      writeFileSync(f, altered);
      await expect(
        readArchive(f, path.join(dir, 'flip-out'), (id) => id === trusted),
        `byte ${i}`,
      ).rejects.toHaveProperty('code');
    }
  });

  it('refuses a signer the reader does not trust', async () => {
    const file = await makeArchive();
    await expect(readArchive(file, path.join(dir, 'x'), () => false)).rejects.toMatchObject({
      code: 'BACKUP_UNTRUSTED_SIGNER',
    });
  });
});
