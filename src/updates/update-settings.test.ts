import { describe, expect, it } from 'vitest';
import { automaticUpdateDue, automaticUpdatesRefusal, type Standing } from './update-settings.js';

describe('automatic updates (S5)', () => {
  const at = (failover: Standing['failover'], cluster: Standing['cluster']) => ({
    failover,
    cluster,
  });
  it('may be enabled on a standalone appliance only', () => {
    expect(automaticUpdatesRefusal(true, at('standalone', 'none'))).toBeUndefined();
    expect(automaticUpdatesRefusal(true, at('primary', 'none'))).toMatch(
      /the primary of a failover relationship/,
    );
    expect(automaticUpdatesRefusal(true, at('backup', 'none'))).toMatch(
      /the backup of a failover relationship/,
    );
    expect(automaticUpdatesRefusal(true, at('standalone', 'primary-node'))).toMatch(
      /is the primary node of a cluster\./,
    );
    expect(automaticUpdatesRefusal(true, at('primary', 'primary-node'))).toMatch(
      /primary node of a cluster, in a failover relationship/,
    );
    expect(automaticUpdatesRefusal(true, at('backup', 'primary-node'))).toMatch(
      /the backup primary node of a cluster/,
    );
    expect(automaticUpdatesRefusal(true, at('standalone', 'traffic-node'))).toMatch(
      /a traffic node of a cluster/,
    );
  });

  it('may always be disabled', () => {
    expect(automaticUpdatesRefusal(false, at('primary', 'primary-node'))).toBeUndefined();
    expect(automaticUpdatesRefusal(false, at('standalone', 'traffic-node'))).toBeUndefined();
  });
});

describe('the daily automatic update', () => {
  const at = (h: number, m: number) => new Date(2026, 10, 29, h, m, 10);
  it('runs once, in the set minute, only when enabled', () => {
    const auto = { enabled: true, dailyAt: '03:30' };
    expect(automaticUpdateDue(auto, at(3, 30), '')).toBe(true);
    expect(automaticUpdateDue(auto, at(3, 30), at(3, 30).toDateString())).toBe(false);
    expect(automaticUpdateDue(auto, at(3, 31), '')).toBe(false);
    expect(automaticUpdateDue({ ...auto, enabled: false }, at(3, 30), '')).toBe(false);
  });
});
