import { describe, expect, it } from 'vitest';
import { planSync } from './plan.js';
import { checkPeerVersion } from './protocol.js';

describe('the sync differ', () => {
  const files = {
    table: 'files' as const,
    theirs: [
      [
        ['a.txt', 'h1'],
        ['b.txt', 'h2-new'],
      ],
      [['c.txt', 'h3']],
    ] as [string, string][][],
    mine: [
      [
        ['a.txt', 'h1'],
        ['b.txt', 'h2-old'],
      ],
      [['z.txt', 'h9']],
    ] as [string, string][][],
  };

  it('fetches changed and missing rows, deletes rows the primary lacks, adds missing history', () => {
    expect(planSync([files], [{ table: 'events', missing: ['e2'] }])).toEqual({
      fetch: [
        { table: 'files', keys: ['b.txt', 'c.txt'] },
        { table: 'events', keys: ['e2'] },
      ],
      delete: [{ table: 'files', keys: ['z.txt'] }],
    });
  });

  it('leaves replaced tables alone when only merging history', () => {
    expect(planSync([], [{ table: 'events', missing: ['e2'] }])).toEqual({
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
