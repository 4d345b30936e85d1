import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Db } from '../../store/db.js';
import { HistoryHasher } from './history-hasher.js';
import { RowHasher } from './row-hasher.js';
import { historyIds, tableShape } from './snapshot.js';

let dir: string;
let db: Db;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-hashers-'));
  db = openDatabase(path.join(dir, 'site.db'));
  migrate(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const addFile = (name: string, sha = 'a'.repeat(64)) =>
  db
    .prepare(
      `INSERT OR REPLACE INTO files (name, sha256, size, content_type, uploaded_by, uploaded_at) VALUES (?, ?, 1, 'text/plain', 'admin', 1)`,
    )
    .run(name, sha);

describe('the cached row hashes', () => {
  it('match a full scan after inserts, updates, replaces, deletes and a rollback', () => {
    const hasher = new RowHasher(db);
    const shape = tableShape(db, 'files');
    for (let i = 0; i < 300; i++) addFile(`f-${i}.bin`);
    const full = () => {
      hasher.forget();
      return hasher.table('files', shape);
    };
    hasher.table('files', shape);
    addFile('f-7.bin', 'b'.repeat(64));
    addFile('é-new.bin');
    addFile('Z-upper.bin');
    db.prepare('UPDATE files SET name = ? WHERE name = ?').run('renamed.bin', 'f-9.bin');
    db.prepare('DELETE FROM files WHERE name = ?').run('f-11.bin');
    expect(() =>
      db.transaction(() => {
        addFile('rolled-back.bin');
        throw new Error('roll back');
      })(),
    ).toThrow('roll back');
    const cached = hasher.table('files', shape);
    expect(cached).toEqual(full());
    expect(cached.buckets.flat()).toHaveLength(301);
  });
});

describe('the running history digests', () => {
  it('match a full scan from any high-water mark, and after a deletion', () => {
    const history = new HistoryHasher(db);
    const add = (id: string) =>
      db
        .prepare(
          `INSERT INTO events (id, ts, appliance, area, actor, action) VALUES (?, 1, 'a', 'site', 'system', 'test')`,
        )
        .run(id);
    for (let i = 0; i < 50; i++) add(`e-${i}`);
    const first = history.ids('events', 'id', 0);
    expect(first).toEqual(historyIds(db, 'events', 'id', 0));
    for (let i = 50; i < 60; i++) add(`e-${i}`);
    expect(history.ids('events', 'id', first.through)).toEqual(
      historyIds(db, 'events', 'id', first.through),
    );
    db.prepare('DELETE FROM events WHERE id = ?').run('e-3');
    expect(history.ids('events', 'id', first.through)).toEqual(
      historyIds(db, 'events', 'id', first.through),
    );
    expect(history.ids('events', 'id', 0)).toEqual(historyIds(db, 'events', 'id', 0));
  });
});
