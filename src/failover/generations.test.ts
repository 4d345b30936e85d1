import { describe, expect, it } from 'vitest';
import {
  acceptedGeneration,
  joinGeneration,
  judgeClaim,
  nextGeneration,
  settledGeneration,
} from './generations.js';
import type { RelationshipView } from './types.js';

const rel = (role: 'primary' | 'backup', generation: number): RelationshipView => ({
  role,
  generation,
  self: { name: 'site-a', address: { host: '198.18.0.1', port: 8443 } },
  peer: { name: 'site-b', address: { host: '198.18.0.2', port: 8443 }, fingerprint: 'ab' },
  establishedAt: '2026-12-07T00:00:00.000Z',
  backupOperationsEnabled: true,
  sync: { firstAfterMs: 1000, intervalMs: 60_000 },
});

describe('judging what the peer claims', () => {
  it('steps a primary down when its peer is primary at a higher generation', () => {
    const outcome = judgeClaim(rel('primary', 3), 'site-b', { role: 'primary', generation: 4 });
    expect(outcome.kind).toBe('step-down');
    if (outcome.kind !== 'step-down') return;
    expect(outcome.next).toMatchObject({ role: 'backup', generation: 4 });
    expect(outcome.reason).toContain('generation 4');
    expect(outcome.reason).toContain('generation 3');
  });

  it('learns a higher generation without changing role otherwise', () => {
    const asBackup = judgeClaim(rel('backup', 3), 'site-b', { role: 'primary', generation: 5 });
    expect(asBackup).toEqual({ kind: 'learn', next: rel('backup', 5) });
    const peerBackup = judgeClaim(rel('primary', 3), 'site-b', { role: 'backup', generation: 5 });
    expect(peerBackup).toEqual({ kind: 'learn', next: rel('primary', 5) });
  });

  it('ignores claims at or below its own generation, from strangers, standalone, or unpaired', () => {
    const claim = { role: 'primary' as const, generation: 3 };
    expect(judgeClaim(rel('primary', 3), 'site-b', claim).kind).toBe('ignore');
    expect(judgeClaim(rel('primary', 4), 'site-b', claim).kind).toBe('ignore');
    expect(judgeClaim(rel('primary', 1), 'site-c', claim).kind).toBe('ignore');
    expect(judgeClaim(undefined, 'site-b', claim).kind).toBe('ignore');
    const standalone = { role: 'standalone' as const, generation: 9 };
    expect(judgeClaim(rel('primary', 1), 'site-b', standalone).kind).toBe('ignore');
  });
});

describe('the generation of a role change', () => {
  it('asks for one above its own and settles on the higher answer', () => {
    expect(nextGeneration(rel('primary', 6))).toBe(7);
    expect(settledGeneration(7, 9)).toBe(9);
    expect(settledGeneration(7, 2)).toBe(7);
  });

  it('never goes back when the peer asks for an old generation', () => {
    expect(acceptedGeneration(10, rel('backup', 4))).toBe(10);
    expect(acceptedGeneration(2, rel('backup', 4))).toBe(5);
  });

  it('keeps a higher generation a joining backup has already seen', () => {
    expect(joinGeneration(3, undefined)).toBe(3);
    expect(joinGeneration(3, rel('backup', 8))).toBe(8);
    expect(joinGeneration(9, rel('backup', 8))).toBe(9);
  });
});
