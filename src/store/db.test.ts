import { describe, expect, it } from 'vitest';
import { migrate, openDatabase, schemaVersion } from './db.js';
import { SCHEMA_VERSION } from './migrations.js';

describe('schema migrations', () => {
  it('brings a new database to the current schema, and is idempotent', () => {
    const db = openDatabase(':memory:');
    expect(migrate(db)).toEqual({ from: 0, to: SCHEMA_VERSION });
    expect(migrate(db)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('refuses a database written by newer software, saying what to do', () => {
    const db = openDatabase(':memory:');
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    expect(() => migrate(db)).toThrow(/understands up to .*Run the newer Gatehouse version/);
    db.close();
  });
});
