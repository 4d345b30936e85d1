import { describe, expect, it } from 'vitest';
import { planSync } from './plan.js';
import { checkPeerVersion, type SyncManifest } from './protocol.js';

const shape = (key: string) => ({ key, columns: [key, 'v'] });

function manifest(files: [string, string][], events: string[]): SyncManifest {
  return {
    appliance: 'primary',
    productVersion: '1.0.0',
    schemaVersion: 1,
    replaced: {
      users: { ...shape('id'), rows: [] },
      site_settings: { ...shape('key'), rows: [] },
      files: { ...shape('name'), rows: files },
    },
    merged: {
      events: { ...shape('id'), ids: events },
      session_records: { ...shape('id'), ids: [] },
    },
    digests: { replaced: '', merged: '' },
  };
}

describe('the sync differ', () => {
  const remote = manifest(
    [
      ['a.txt', 'h1'],
      ['b.txt', 'h2-new'],
      ['c.txt', 'h3'],
    ],
    ['e1', 'e2'],
  );
  const local = {
    replaced: {
      files: new Map([
        ['a.txt', 'h1'],
        ['b.txt', 'h2-old'],
        ['z.txt', 'h9'],
      ]),
    },
    merged: { events: new Set(['e1', 'e-local']) },
  };

  it('fetches changed and missing rows, deletes rows the primary lacks, adds missing history', () => {
    expect(planSync(remote, local, 'mirror')).toEqual({
      fetch: [
        { table: 'files', keys: ['b.txt', 'c.txt'] },
        { table: 'events', keys: ['e2'] },
      ],
      delete: [{ table: 'files', keys: ['z.txt'] }],
    });
  });

  it('leaves replaced tables alone when only merging history', () => {
    expect(planSync(remote, local, 'merge-history-only')).toEqual({
      fetch: [{ table: 'events', keys: ['e2'] }],
      delete: [],
    });
  });
});

describe('version skew', () => {
  const own = { productVersion: '1.2.0', schemaVersion: 3 };

  it("accepts an older or equal appliance's data", () => {
    expect(() =>
      checkPeerVersion({ appliance: 'p', productVersion: '1.1.9', schemaVersion: 2 }, own),
    ).not.toThrow();
    expect(() => checkPeerVersion({ appliance: 'p', ...own }, own)).not.toThrow();
  });

  it("refuses a newer appliance's data, saying to upgrade this one first", () => {
    for (const peer of [
      { appliance: 'p', productVersion: '1.3.0', schemaVersion: 3 },
      { appliance: 'p', productVersion: '1.2.0', schemaVersion: 4 },
    ])
      expect(() => checkPeerVersion(peer, own)).toThrow(
        expect.objectContaining({
          code: 'SYNC_VERSION_NEWER',
          message: expect.stringMatching(/Upgrade this appliance first/),
        }),
      );
  });
});
