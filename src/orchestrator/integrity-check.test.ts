import { describe, expect, it } from 'vitest';
import { compareIntegrity, type Snapshot } from './integrity-check.js';

const snap = (
  appliance: string,
  ids: Partial<Record<string, string[]>>,
  recordings: string[] = [],
): Snapshot => ({
  appliance,
  takenAt: '2026-12-02T00:00:00Z',
  tables: Object.fromEntries(
    ['users', 'site_settings', 'files', 'events', 'session_records'].map((t) => [
      t,
      { count: ids[t]?.length ?? 0, digest: (ids[t] ?? []).join(','), ids: ids[t] ?? [] },
    ]),
  ),
  recordings: { count: recordings.length, digest: recordings.join(','), sha256: recordings },
});

describe('nothing lost: the integrity comparison', () => {
  /** b is the final primary, a its backup copy; a was the primary before. */
  const compare = (after: Record<string, Snapshot>) =>
    compareIntegrity(before, after, 'b', [{ name: 'a', tables: ['users', 'files'] }], 'a');
  const before = {
    a: snap('a', { users: ['1', '2'], files: ['logo.png'], events: ['e1'] }, ['r1']),
    b: snap('b', { users: ['1', '2'], files: ['logo.png'], events: ['e2'] }),
  };

  it('passes when the final primary holds everything and its copy equals it', () => {
    const after = {
      b: snap('b', { users: ['1', '2'], files: ['logo.png'], events: ['e1', 'e2', 'e3'] }, ['r1']),
      a: snap('a', { users: ['1', '2'], files: ['logo.png'], events: ['e1', 'e2', 'e3'] }, ['r1']),
    };
    const r = compare(after);
    expect(r).toMatchObject({ primary: 'b', lost: [], mismatched: [] });
    expect(r.counts.b!.events).toEqual({ before: 1, after: 3 });
  });

  it('finds a user deleted everywhere, a log entry and a recording gone, and a copy that differs', () => {
    const after = {
      b: snap('b', { users: ['1'], files: ['logo.png'], events: ['e2'] }),
      a: snap('a', { users: ['1'], files: [], events: ['e2'] }),
    };
    const r = compare(after);
    expect(r.lost).toEqual([
      '1 events rows of a missing on b (e.g. e1)',
      '1 recordings of a missing on b',
    ]);
    // Deleted everywhere: shown (an administrator may have deleted it), not failed on.
    expect(r.removed).toEqual(['1 users of a no longer on b (e.g. 2)']);
    expect(r.mismatched).toEqual(["a's files differ from b's"]);
  });
});
