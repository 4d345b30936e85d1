import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeArchive } from '../src/appliance/backup/archive.js';
import { generateEd25519, loadPrivateKey } from '../src/shared/crypto.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  tempDir,
  type TestAppliance,
  siteState,
} from './support/appliance.js';

interface Problem {
  code: string;
  detail: string;
  errors?: { field: string; message: string }[];
}

let a: TestAppliance;
let b: TestAppliance;
let archive: Buffer;

/** Restore, then sign in to /login again: a restore revokes the site's sessions. */
async function restore(t: TestAppliance, body: Buffer, query = '') {
  const res = await t.api.call<Problem & { counts?: Record<string, number> }>(
    'POST',
    `/api/appliance/backup/restore${query}`,
    { raw: body },
  );
  await t.api.signIn('login', 'admin', LOGIN_PASSWORD);
  return res;
}

beforeAll(async () => {
  [a, b] = await Promise.all([
    startTestAppliance({ name: 'backup-a' }),
    startTestAppliance({ name: 'backup-b' }),
  ]);
  await a.api.call('POST', '/api/login/users', {
    json: { username: 'rep.one', displayName: 'Rep One', password: 'Sturdy-Pass-101' },
  });
  await a.api.call('PATCH', '/api/login/settings', {
    json: { siteName: 'Backed Up Site', loginBanner: 'Authorised use only' },
  });
  await a.api.call('PUT', '/api/login/files/runbook.txt', {
    raw: Buffer.from('step 1: back up\n'),
  });
  await a.api.call('PUT', '/api/login/files/tools.bin', { raw: Buffer.alloc(200_000, 9) });
  const res = await a.api.call<Buffer>('GET', '/api/appliance/backup');
  expect(res.status).toBe(200);
  archive = res.body;
});

describe('backup and restore', () => {
  it('downloads one signed archive', async () => {
    expect(archive.subarray(0, 17).toString()).toBe('GATEHOUSE-BACKUP\n');
    const signer = (await a.api.call<{ keyId: string }>('GET', '/api/appliance/backup/signer')).body
      .keyId;
    expect(signer).toMatch(/^[0-9a-f]{64}$/);
  });

  it('restores users, settings and files after they were changed, in one step', async () => {
    const sessionBefore = await a.api.call('GET', '/api/login/users');
    expect(sessionBefore.status).toBe(200);
    const before = await siteState(a);
    await a.api.call('DELETE', '/api/login/users/rep.one');
    await a.api.call('DELETE', '/api/login/files/tools.bin');
    await a.api.call('PATCH', '/api/login/settings', { json: { siteName: 'Changed' } });
    const res = await restore(a, archive);
    expect(res.status).toBe(200);
    expect(res.body.counts!.users).toBe(2);
    expect(res.body.counts!.files).toBe(2);
    expect(await siteState(a)).toEqual(before);
    const file = await a.api.call<Buffer>('GET', '/api/login/files/tools.bin');
    expect(Buffer.compare(file.body, Buffer.alloc(200_000, 9))).toBe(0);
    // The /appliance administrator and the Inter-Appliance key are the appliance's own, not the site's.
    expect((await a.api.call('GET', '/api/appliance/status')).status).toBe(200);
  });

  it('refuses a truncated archive and changes nothing', async () => {
    const before = await siteState(b);
    for (const cut of [10, 200, archive.length - 1000, archive.length - 1]) {
      const res = await restore(b, archive.subarray(0, cut));
      expect(res.status, `cut at ${cut}`).toBe(400);
      expect(['BACKUP_TRUNCATED', 'BACKUP_UNTRUSTED_SIGNER']).toContain(res.body.code);
    }
    const signer = (await a.api.call<{ keyId: string }>('GET', '/api/appliance/backup/signer')).body
      .keyId;
    const truncated = await restore(
      b,
      archive.subarray(0, archive.length - 1),
      `?trustedSigner=${signer}`,
    );
    expect(truncated.body.code).toBe('BACKUP_TRUNCATED');
    expect(truncated.body.detail).toMatch(/truncated/);
    expect(await siteState(b)).toEqual(before);
  });

  it('refuses an altered archive (header or payload byte) and changes nothing', async () => {
    const before = await siteState(a);
    const headerFlip = Buffer.from(archive);
    headerFlip[40] = headerFlip[40]! ^ 0x01;
    const r1 = await restore(a, headerFlip);
    expect(r1.status).toBe(400);
    expect(['BACKUP_BAD_SIGNATURE', 'BACKUP_CORRUPT']).toContain(r1.body.code);
    const payloadFlip = Buffer.from(archive);
    payloadFlip[payloadFlip.length - 10] = payloadFlip[payloadFlip.length - 10]! ^ 0xff;
    const r2 = await restore(a, payloadFlip);
    expect(r2.status).toBe(400);
    expect(r2.body.code).toBe('BACKUP_CORRUPT');
    expect((await restore(a, Buffer.from('hello, not an archive'))).body.code).toBe(
      'BACKUP_NOT_RECOGNISED',
    );
    expect((await restore(a, Buffer.alloc(0))).body.code).toBe('BACKUP_EMPTY');
    expect(await siteState(a)).toEqual(before);
  });

  it("refuses another appliance's archive unless its signer is trusted explicitly", async () => {
    const before = await siteState(b);
    const refused = await restore(b, archive);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('BACKUP_UNTRUSTED_SIGNER');
    expect(refused.body.errors![0]!.field).toBe('trustedSigner');
    expect(await siteState(b)).toEqual(before);
    const signer = (await a.api.call<{ keyId: string }>('GET', '/api/appliance/backup/signer')).body
      .keyId;
    const trusted = await restore(b, archive, `?trustedSigner=${signer}`);
    expect(trusted.status).toBe(200);
    expect((await siteState(b)).users).toEqual((await siteState(a)).users);
  });

  it('refuses an archive signed by a foreign key, and one from a newer version', async () => {
    const dir = tempDir();
    const site = path.join(dir, 'site.db');
    // A genuine site database from the appliance's own backup, re-signed by other hands.
    const { readArchive } = await import('../src/appliance/backup/archive.js');
    const unpacked = path.join(dir, 'x');
    await readArchive(writeTmp(dir, archive), unpacked, () => true);
    writeFileSync(site, readFileSync(path.join(unpacked, 'site.db')));
    const foreign = generateEd25519();
    const foreignFile = path.join(dir, 'foreign.ghb');
    await writeArchive(
      foreignFile,
      {
        productVersion: '1.0.0',
        schemaVersion: 1,
        appliance: 'mallory',
        createdAt: new Date().toISOString(),
        includesRecordings: false,
      },
      [{ name: 'site.db', file: site }],
      loadPrivateKey(foreign.privateKeyPem),
      foreign.publicKeyPem,
    );
    const r1 = await restore(a, readFileSync(foreignFile));
    expect(r1.body.code).toBe('BACKUP_UNTRUSTED_SIGNER');

    // Signed by this very appliance's key, but made by a newer Gatehouse.
    const ownKey = readFileSync(path.join(a.dataDir, 'keys', 'identity.key'), 'utf8');
    const ownPub = readFileSync(path.join(a.dataDir, 'keys', 'identity.pub'), 'utf8');
    const newer = path.join(dir, 'newer.ghb');
    await writeArchive(
      newer,
      {
        productVersion: '99.0.0',
        schemaVersion: 1,
        appliance: 'backup-a',
        createdAt: new Date().toISOString(),
        includesRecordings: false,
      },
      [{ name: 'site.db', file: site }],
      loadPrivateKey(ownKey),
      ownPub,
    );
    const r2 = await restore(a, readFileSync(newer));
    expect(r2.status).toBe(400);
    expect(r2.body.code).toBe('BACKUP_NEWER_VERSION');
    expect(r2.body.detail).toContain('99.0.0');
  });

  it('writes backups and restores to the event log, and a restore keeps the history since the backup', async () => {
    const log = await a.api.call<{ items: { action: string }[] }>(
      'GET',
      '/api/login/logs?q=backup.&pageSize=50',
    );
    const actions = log.body.items.map((e) => e.action);
    expect(actions).toContain('backup.created');
    expect(actions).toContain('backup.restored');
  });
});

function writeTmp(dir: string, data: Buffer): string {
  const f = path.join(dir, 'copy.ghb');
  writeFileSync(f, data);
  return f;
}
