import { compareVersions, PRODUCT_VERSION } from '../shared/version.js';
import { SCHEMA_VERSION } from '../store/migrations.js';
import { failoverErrors } from './error-codes.js';

/** What an appliance runs, as far as pairing and synchronisation care. */
export interface ApplianceVersions {
  productVersion: string;
  schemaVersion: number;
}

export const ownVersions = (): ApplianceVersions => ({
  productVersion: PRODUCT_VERSION,
  schemaVersion: SCHEMA_VERSION,
});

/** Whether `other` runs a newer product or schema than `own`. */
export function isNewer(other: ApplianceVersions, own: ApplianceVersions): boolean {
  return (
    other.schemaVersion > own.schemaVersion ||
    compareVersions(other.productVersion, own.productVersion) > 0
  );
}

/**
 * Version skew at establish, on the intended backup: it will take the primary's data, so a
 * primary newer than this appliance is refused (its rows may not be understood here); an older
 * primary is accepted, its data migrated forward on read.
 */
export function checkPrimaryVersion(
  primary: ApplianceVersions & { name: string },
  own: ApplianceVersions,
): void {
  if (isNewer(primary, own))
    throw failoverErrors.FAILOVER_VERSION_NEWER(
      `"${primary.name}" runs Gatehouse ${primary.productVersion} (schema ${primary.schemaVersion}), newer than this appliance's ${own.productVersion} (schema ${own.schemaVersion}): a backup cannot take a newer primary's data. Upgrade this appliance (the backup) first, then establish the relationship again.`,
    );
}
