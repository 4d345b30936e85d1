import { describe, expect, it } from 'vitest';
import { automaticUpdateDue, automaticUpdatesRefusal } from './update-settings.js';

describe('automatic updates (S5)', () => {
  it('may be enabled on a standalone appliance only', () => {
    expect(automaticUpdatesRefusal(true, 'standalone')).toBeUndefined();
    expect(automaticUpdatesRefusal(true, 'primary')).toMatch(/failover relationship/);
    expect(automaticUpdatesRefusal(true, 'backup')).toMatch(/failover relationship/);
    expect(automaticUpdatesRefusal(true, 'traffic-node')).toMatch(/cluster/);
  });

  it('may always be disabled', () => {
    expect(automaticUpdatesRefusal(false, 'primary')).toBeUndefined();
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
