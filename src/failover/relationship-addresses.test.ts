import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../shared/errors.js';
import { refuseMovingAddresses } from './relationship-addresses.js';

const moving = [
  { address: '192.0.2.50', why: 'a shared address' },
  { address: 'support.example.com', why: 'the site hostname' },
];

const refusal = (backupHost: string, reverseHost: string) => {
  try {
    refuseMovingAddresses({ backupHost, reverseHost }, moving);
    return undefined;
  } catch (e) {
    if (!isGatehouseError(e)) throw e;
    return { code: e.code, field: e.fields[0]?.field, message: e.message };
  }
};

describe('the connection details of a relationship (S14)', () => {
  it('accepts unique addresses', () => {
    expect(refusal('192.0.2.11', '192.0.2.10')).toBeUndefined();
  });

  it('refuses an address that moves, naming the field and why', () => {
    expect(refusal('192.0.2.11', '192.0.2.50')).toMatchObject({
      code: 'FAILOVER_ADDRESS_MOVES',
      field: 'reverseHost',
      message: expect.stringContaining('192.0.2.50 is a shared address') as string,
    });
    expect(refusal('SUPPORT.example.com', '192.0.2.10')).toMatchObject({
      field: 'backupHost',
      message: expect.stringContaining('the site hostname') as string,
    });
  });
});
