import { isIP } from 'node:net';
import { fieldError } from '../shared/errors.js';
import type { MovingAddress } from '../site/moving-address.js';
import { failoverErrors } from './error-codes.js';

const same = (a: string, b: string) =>
  isIP(a) && isIP(b)
    ? a.replace(/^::ffff:/, '') === b.replace(/^::ffff:/, '')
    : a.toLowerCase() === b.toLowerCase();

/**
 * S14: "use the unique IP address of each appliance". The backup and reverse connection details
 * must reach one appliance whatever its role; an address that moves with the primary role would
 * have the pair talk to itself after the first switch. Refused with the field and the reason.
 */
export function refuseMovingAddresses(
  details: { backupHost: string; reverseHost: string },
  moving: MovingAddress[],
): void {
  for (const field of ['backupHost', 'reverseHost'] as const) {
    const hit = moving.find((m) => same(m.address, details[field]));
    if (hit)
      throw fieldError(
        field,
        `${hit.address} is ${hit.why}, so after a switch it would reach the other appliance. Enter the unique address of each appliance (Networking > IP Configuration lists it as "unique").`,
        failoverErrors.FAILOVER_ADDRESS_MOVES,
      );
  }
}
