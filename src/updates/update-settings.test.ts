import { describe, expect, it } from 'vitest';
import { automaticUpdatesRefusal } from './update-settings.js';

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
