import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startTestAppliance, until } from './support/appliance.js';

describe('durability', () => {
  it('keeps every acknowledged user and file through SIGKILL mid-write, with a consistent store', async () => {
    const t = await startTestAppliance({ name: 'appliance-crash' });
    const ackedUsers: string[] = [];
    const ackedFiles = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      let stop = false;
      const writers: Promise<void>[] = [];
      const client = t.api;
      for (let w = 0; w < 2; w++) {
        writers.push(
          (async () => {
            for (let i = 0; !stop; i++) {
              const username = `crash-r${round}-w${w}-${i}`;
              const res = await client
                .call('POST', '/api/login/users', {
                  json: { username, displayName: username, password: 'Durable-Pass-99' },
                })
                .catch(() => undefined);
              if (res?.status === 201) ackedUsers.push(username);
              else if (res) expect.fail(`unexpected ${res.status} creating ${username}`);
              else return;
            }
          })(),
        );
      }
      for (let w = 0; w < 3; w++) {
        writers.push(
          (async () => {
            for (let i = 0; !stop; i++) {
              const name = `crash-r${round}-w${w}-${i}.bin`;
              const content = Buffer.alloc(4096 + i * 97, `${round}:${w}:${i}`);
              const res = await client
                .call('PUT', `/api/login/files/${name}`, { raw: content })
                .catch(() => undefined);
              if (res?.status === 201)
                ackedFiles.set(name, createHash('sha256').update(content).digest('hex'));
              else if (res) expect.fail(`unexpected ${res.status} storing ${name}`);
              else return;
            }
          })(),
        );
      }
      const usersBefore = ackedUsers.length;
      const filesBefore = ackedFiles.size;
      await until(
        () => ackedUsers.length >= usersBefore + 8 && ackedFiles.size >= filesBefore + 40,
        30_000,
        'writes to be acknowledged',
      );
      await t.proc.kill();
      stop = true;
      await Promise.all(writers);
      await t.restart();
    }

    const users = new Set(
      (
        await t.api.call<{ users: { username: string }[] }>('GET', '/api/login/users')
      ).body.users.map((u) => u.username),
    );
    const missingUsers = ackedUsers.filter((u) => !users.has(u));
    expect(missingUsers).toEqual([]);
    const files = new Map(
      (
        await t.api.call<{ files: { name: string; sha256: string }[] }>('GET', '/api/login/files')
      ).body.files.map((f) => [f.name, f.sha256]),
    );
    for (const [name, sha] of ackedFiles) expect(files.get(name), name).toBe(sha);
    expect(ackedUsers.length).toBeGreaterThanOrEqual(24);
    expect(ackedFiles.size).toBeGreaterThanOrEqual(120);

    // The store itself: SQLite integrity, and every file row's blob present and whole.
    const db = new Database(path.join(t.dataDir, 'store', 'gatehouse.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const rows = db.prepare('SELECT name, sha256, size FROM files').all() as {
        name: string;
        sha256: string;
        size: number;
      }[];
      for (const r of rows) {
        const blob = path.join(t.dataDir, 'blobs', 'sha256', r.sha256.slice(0, 2), r.sha256);
        expect(existsSync(blob), `blob of ${r.name}`).toBe(true);
        const data = readFileSync(blob);
        expect(data.length).toBe(r.size);
        expect(createHash('sha256').update(data).digest('hex')).toBe(r.sha256);
      }
    } finally {
      db.close();
    }
    // Interrupted uploads were cleaned up at start, not kept as half blobs.
    expect(readdirSync(path.join(t.dataDir, 'blobs', 'tmp'))).toEqual([]);
    // Real appliances: 35 s alone at load 10, up to 3× that on a loaded CI machine.
  }, 120_000);
});
