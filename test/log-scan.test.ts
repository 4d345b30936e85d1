import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { filesUnder, gunzipWhatCan, leaksIn, secret, secretBytes } from './support/log-scan.js';

const found = (text: string, s = secret('the password', 'correct horse battery')) =>
  leaksIn([{ source: 'a log', text }], [s]);

describe('leaksIn (the secret scan of the log tests)', () => {
  it('finds a secret base64-encoded inside a larger value, whatever its offset mod 3', () => {
    for (const user of ['', 'a', 'ab', 'abc', 'admin', 'operator']) {
      const basic = Buffer.from(`${user}:correct horse battery`);
      for (const encoding of ['base64', 'base64url'] as const)
        for (const after of ['', '!', '!?', '!?#'])
          expect(
            found(
              `authorization: Basic ${Buffer.concat([basic, Buffer.from(after)]).toString(encoding)}`,
            ),
            `${user}:…${after} in ${encoding}`,
          ).not.toEqual([]);
    }
  });

  it('finds raw secret bytes inside a larger encoding, and nothing in text without them', () => {
    const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const s = secretBytes('a key', key);
    for (const before of [0, 1, 2])
      expect(
        found(
          Buffer.concat([Buffer.alloc(before, 7), key, Buffer.from([9])]).toString('base64'),
          s,
        ),
      ).not.toEqual([]);
    expect(found('authorization: Basic YWRtaW46aHVudGVyMg==')).toEqual([]);
  });

  it('reads a rotated log gzipped whole, and one whose compression a stop cut short as far as it goes', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-log-scan-'));
    try {
      const lines = '{"msg":"correct horse battery"}\n'.repeat(2000);
      const gz = gzipSync(lines);
      writeFileSync(path.join(dir, 'app.log.2.gz'), gz);
      writeFileSync(path.join(dir, 'app.log.3.gz.partial'), gz.subarray(0, gz.length / 2));
      const files = filesUnder(dir);
      expect(files.map((f) => path.basename(f.source)).sort()).toEqual([
        'app.log.2.gz',
        'app.log.3.gz.partial',
      ]);
      for (const f of files)
        expect(leaksIn([f], [secret('the password', 'correct horse battery')])).not.toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads what it can of a gzip cut short in its header (1 to 9 bytes: nothing) or damaged past some point, and never fails the scan', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-log-scan-'));
    try {
      const gz = gzipSync('{"msg":"correct horse battery"}\n'.repeat(2000));
      for (let n = 0; n <= 9; n++)
        writeFileSync(path.join(dir, `app.log.${n + 2}.gz.partial`), gz.subarray(0, n));
      // Garbage after the first half (what a crash may leave): plain gunzip refuses it.
      const garbage = Buffer.from(Array.from({ length: 512 }, (_, i) => 0x13 ^ ((i * 31) & 255)));
      const damaged = Buffer.concat([gz.subarray(0, gz.length / 2), garbage]);
      expect(() => gunzipSync(damaged, { finishFlush: constants.Z_SYNC_FLUSH })).toThrow();
      writeFileSync(path.join(dir, 'app.log.20.gz.partial'), damaged);
      const files = filesUnder(dir);
      expect(files).toHaveLength(11);
      for (const f of files.filter((f) => !f.source.endsWith('.20.gz.partial')))
        expect(f.text, f.source).toBe('');
      const read = files.find((f) => f.source.endsWith('.20.gz.partial'))!;
      expect(leaksIn([read], [secret('the password', 'correct horse battery')])).not.toEqual([]);
      // What is read begins with the lines the damage came after.
      expect(read.text.startsWith('{"msg":"correct horse battery"}\n'.repeat(10))).toBe(true);
      expect(gunzipWhatCan(gz).toString()).toBe('{"msg":"correct horse battery"}\n'.repeat(2000));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
