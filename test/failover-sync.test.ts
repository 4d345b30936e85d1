import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerClient } from '../src/failover/peer-client.js';
import type { SyncManifest } from '../src/failover/sync/protocol.js';
import type { SyncProgress } from '../src/failover/sync/service.js';
import type { SyncResult } from '../src/failover/types.js';
import { BlobStore } from '../src/store/blobs.js';
import { openDatabase } from '../src/store/db.js';
import { siteState, startTestAppliance, until, type TestAppliance } from './support/appliance.js';

const KEY = 'failover-sync-test-key-0123456789abcdef';

let a: TestAppliance;
let b: TestAppliance;
/** The test speaks to each appliance as a third key holder would: signed peer requests. */
let toA: PeerClient;
let toB: PeerClient;

const peerOf = (t: TestAppliance, name: string) => ({
  name,
  address: { host: t.proc.host, port: t.proc.port },
  fingerprint: t.proc.fingerprint,
});

/** Ask `to` to pull from `from` now, as Sync Now on the primary does. */
const pull = (to: PeerClient, from: TestAppliance, name: string, mode = 'mirror') =>
  to.call<SyncResult>('POST', '/api/peer/sync/run', { mode, peer: peerOf(from, name) });

const manifest = (c: PeerClient) => c.call<SyncManifest>('POST', '/api/peer/sync/manifest', {});

async function putFiles(t: TestAppliance, names: string[], size: number) {
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const res = await t.api.call('PUT', `/api/login/files/${name}`, { raw: randomBytes(size) });
      expect(res.status).toBeLessThan(300);
    }
  };
  await Promise.all(Array.from({ length: 12 }, worker));
}

async function addUser(t: TestAppliance, username: string) {
  const res = await t.api.call('POST', '/api/login/users', {
    json: { username, displayName: `User ${username}`, password: 'Sturdy-Pass-101' },
  });
  expect(res.status).toBe(201);
}

/** Session records are written by the session relay; the test writes them as it would. */
function addSessionRecord(t: TestAppliance, id: string, recording?: string) {
  const db = openDatabase(path.join(t.dataDir, 'store', 'gatehouse.db'));
  try {
    db.prepare(
      `INSERT INTO session_records (id, appliance, representative, jump_client, target, started_at, ended_at, recording_sha256, recording_size)
       VALUES (?, ?, 'rep.one', 'jc-1', 'host-1', ?, ?, ?, ?)`,
    ).run(id, path.basename(t.dataDir), Date.now() - 1000, Date.now(), recording ?? null, 16);
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  [a, b] = await Promise.all([
    startTestAppliance({ name: 'sync-a', host: '127.0.0.31', interApplianceKey: KEY }),
    startTestAppliance({ name: 'sync-b', host: '127.0.0.32', interApplianceKey: KEY }),
  ]);
  toA = new PeerClient(
    { host: a.proc.host, port: a.proc.port },
    a.proc.fingerprint,
    () => KEY,
    't',
  );
  toB = new PeerClient(
    { host: b.proc.host, port: b.proc.port },
    b.proc.fingerprint,
    () => KEY,
    't',
  );
}, 30_000);

afterAll(async () => {
  await Promise.all([toA?.close(), toB?.close()]);
});

describe('failover synchronisation between two real appliances', () => {
  it('makes the backup a copy of the primary: users, settings, 1,000 files, logs; digests equal', async () => {
    await addUser(b, 'only.on.backup');
    await Promise.all(['rep.one', 'rep.two', 'rep.three'].map((u) => addUser(a, u)));
    await a.api.call('PATCH', '/api/login/settings', {
      json: { siteName: 'Synced Site', loginBanner: 'Authorised use only' },
    });
    await putFiles(
      a,
      Array.from({ length: 1000 }, (_, i) => `doc-${String(i).padStart(4, '0')}.txt`),
      512,
    );
    const result = await pull(toB, a, 'sync-a');
    console.log(`full sync of 1,000 files: ${result.ms} ms`, result.rows, result.blobs);
    expect(result.blobs.fetched).toBe(1000);
    expect(result.rows.files).toBe(1000);

    expect(await siteState(b)).toEqual(await siteState(a));
    const [ma, mb] = await Promise.all([manifest(toA), manifest(toB)]);
    expect(mb.digests.replaced).toBe(ma.digests.replaced);
    const eventsOnB = new Set(mb.merged.events.ids);
    expect(ma.merged.events.ids.filter((id) => !eventsOnB.has(id))).toEqual([]);
    const logs = await b.api.call<{ items: { appliance: string; action: string }[] }>(
      'GET',
      '/api/login/logs?q=sync',
    );
    expect(logs.body.items.some((e) => e.action === 'failover.sync')).toBe(true);
  }, 60_000);

  it('moves only what changed: one changed file is one blob and a few rows', async () => {
    await a.api.call('PUT', '/api/login/files/doc-0007.txt', { raw: randomBytes(600) });
    const result = await pull(toB, a, 'sync-a');
    console.log(`incremental sync (1 changed file of 1,000): ${result.ms} ms`, result.rows);
    expect(result.blobs).toMatchObject({ fetched: 1, bytes: 600 });
    expect(result.rows.files).toBe(1);
    expect(result.rows.users).toBe(0);
    expect(result.rows.events).toBeLessThanOrEqual(3);
    expect(await siteState(b)).toEqual(await siteState(a));

    const again = await pull(toB, a, 'sync-a');
    expect(again.blobs.fetched).toBe(0);
    expect(again.rows.files ?? 0).toBe(0);
  }, 30_000);

  it('resumes after the backup is killed mid-sync, never showing half a sync', async () => {
    await addUser(a, 'late.user');
    await putFiles(
      a,
      Array.from({ length: 120 }, (_, i) => `big-${i}.bin`),
      1024 * 1024,
    );
    const before = await siteState(b);
    const pending = pull(toB, a, 'sync-a').catch((e: unknown) => e);
    await until(
      async () => {
        const s = await toB.call<{ progress: SyncProgress }>('POST', '/api/peer/sync/status', {});
        return s.progress.phase === 'blobs' && s.progress.blobs.done >= 10;
      },
      20_000,
      'the backup to be fetching blobs',
      5,
    );
    await b.proc.kill();
    await pending;
    await b.crashAndRestart();
    // Nothing of the interrupted sync is visible: not the new user, not one of the new files.
    expect(await siteState(b)).toEqual(before);

    const result = await pull(toB, a, 'sync-a');
    expect(result.blobs.fetched).toBeGreaterThan(0);
    expect(result.blobs.fetched).toBeLessThan(120 - 9);
    expect(await siteState(b)).toEqual(await siteState(a));
  }, 60_000);

  it('merges session records and recordings made on either side, both ways', async () => {
    const recording = await new BlobStore(path.join(b.dataDir, 'blobs')).put(
      Buffer.from('recording of a session on b'),
    );
    const onA = randomUUID();
    const onB = randomUUID();
    addSessionRecord(a, onA);
    addSessionRecord(b, onB, recording.sha256);
    await addUser(b, 'edited.on.backup');

    // Re-establishing: the primary takes the backup's history only, then the backup mirrors it.
    const merged = await pull(toA, b, 'sync-b', 'merge-history-only');
    expect(merged.rows.session_records).toBe(1);
    expect(merged.blobs.fetched).toBe(1);
    expect(
      existsSync(
        path.join(a.dataDir, 'blobs', 'sha256', recording.sha256.slice(0, 2), recording.sha256),
      ),
    ).toBe(true);
    expect((await siteState(a)).users).not.toContain('edited.on.backup:User edited.on.backup');
    await pull(toB, a, 'sync-a');

    const [ma, mb] = await Promise.all([manifest(toA), manifest(toB)]);
    for (const m of [ma, mb])
      expect(m.merged.session_records.ids).toEqual(expect.arrayContaining([onA, onB]));
    expect(mb.digests.replaced).toBe(ma.digests.replaced);
    expect(await siteState(b)).toEqual(await siteState(a));
  }, 30_000);
});
