import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../shared/errors.js';
import { checkPrimaryVersion, isNewer } from './version-skew.js';

const own = { productVersion: '1.4.0', schemaVersion: 7 };
const primary = (productVersion: string, schemaVersion: number) => ({
  name: 'site-a',
  productVersion,
  schemaVersion,
});

function refusal(fn: () => void) {
  try {
    fn();
  } catch (e) {
    if (isGatehouseError(e)) return e;
    throw e;
  }
  return undefined;
}

describe('version skew at establish', () => {
  it('refuses a primary whose product is newer, telling the backup to upgrade first', () => {
    const e = refusal(() => checkPrimaryVersion(primary('1.10.0', 7), own));
    expect(e?.code).toBe('FAILOVER_VERSION_NEWER');
    expect(e?.status).toBe(409);
    expect(e?.message).toMatch(/site-a.*1\.10\.0.*Upgrade this appliance \(the backup\) first/);
  });

  it('refuses a primary whose schema is newer even at the same product version', () => {
    expect(refusal(() => checkPrimaryVersion(primary('1.4.0', 8), own))?.code).toBe(
      'FAILOVER_VERSION_NEWER',
    );
  });

  it('accepts an older or equal primary (a newer backup takes an older primary)', () => {
    expect(refusal(() => checkPrimaryVersion(primary('1.3.9', 6), own))).toBeUndefined();
    expect(refusal(() => checkPrimaryVersion(primary('1.4.0', 7), own))).toBeUndefined();
  });

  it('compares versions numerically, not as text', () => {
    expect(
      isNewer(
        { productVersion: '1.10.0', schemaVersion: 1 },
        { productVersion: '1.9.9', schemaVersion: 1 },
      ),
    ).toBe(true);
    expect(
      isNewer(
        { productVersion: '1.9.9', schemaVersion: 1 },
        { productVersion: '1.10.0', schemaVersion: 1 },
      ),
    ).toBe(false);
  });
});
