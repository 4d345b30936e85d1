import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReleaseKey } from '../src/updates/release-keys.js';
import { SystemDir } from '../src/updates/slots.js';
import { StagingArea } from '../src/updates/staging.js';
import type { InstallHost } from '../src/updates/installer-types.js';
import { buildTestPackage, makeReleaseKey } from './support/updates.js';
import { until } from './support/appliance.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'gh-staging-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('staging after a restart', () => {
  // A full run once answered 500 to an upload made right after a rollback: the restarted
  // appliance's clean-up, which runs while it already serves, removed the upload's file.
  it('removes uploads a stop cut off, never one being received now', async () => {
    const { keyFile, pubFile } = makeReleaseKey(root);
    const pkg = await buildTestPackage({
      kind: 'product',
      version: '9.9.9',
      keyFile,
      out: path.join(root, 'product-9.9.9.ghpkg'),
    });
    const sys = new SystemDir(path.join(root, 'data'));
    sys.ensure();
    const key = parseReleaseKey(readFileSync(pubFile, 'utf8'), 'release.key.pub');
    const staging = new StagingArea(sys, { releaseKeys: () => [key] } as unknown as InstallHost);
    const leftover = path.join(sys.staging, 'upload-0123456789ab.part');
    writeFileSync(leftover, 'cut off by a crash');

    const bytes = readFileSync(pkg);
    const body = new PassThrough();
    const staged = staging.stageUpload(body, 'upload');
    body.write(bytes.subarray(0, 1024));
    const receiving = () =>
      readdirSync(sys.staging).filter((f) => f.endsWith('.part') && f !== path.basename(leftover));
    await until(() => receiving().length === 1, 10_000);

    await staging.dropLeftoverUploads();
    expect(existsSync(leftover)).toBe(false);
    expect(receiving()).toHaveLength(1);

    body.end(bytes.subarray(1024));
    const meta = await staged;
    expect(meta).toMatchObject({ kind: 'product', version: '9.9.9', size: bytes.length });
    expect(readdirSync(sys.staging).sort()).toEqual([`${meta.id}.ghpkg`, `${meta.id}.json`]);
  });
});
