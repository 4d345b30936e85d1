import { GatehouseError, isGatehouseError } from '../shared/errors.js';
import { PACKAGE } from './package.js';

/** Errors that mean the bytes of a staged package are not the ones that were signed. */
const DAMAGE = new Set([
  'PACKAGE_CORRUPT',
  'PACKAGE_TRUNCATED',
  'PACKAGE_BAD_SIGNATURE',
  'PACKAGE_NOT_RECOGNISED',
]);

export const isStagedDamage = (e: unknown): e is GatehouseError =>
  isGatehouseError(e) && DAMAGE.has(e.code);

/** What to do when no appliance-specific advice is given: the appliance fetched it itself. */
export const RESTAGE_ADVICE =
  'Download it again (Check for updates; if the update server says it was already downloaded, its operator resets that download: `gatehouse update-server reset --appliance NAME --version VERSION`), or upload the package file again (Manual Installation).';

/**
 * The error of a damaged staged package, told the way the appliance's operator recovers: the
 * generic "download it again from the update server" is wrong for a traffic node, whose copy
 * came from its primary node.
 */
export function damagedStaged(
  e: GatehouseError,
  what: string,
  advice: string = RESTAGE_ADVICE,
): GatehouseError {
  const reason = e.message.replace(PACKAGE.fix, '').trim();
  return new GatehouseError(
    e.code,
    e.status,
    `${reason} The damaged staged copy of ${what} was removed, nothing was installed. ${advice}`,
  );
}
