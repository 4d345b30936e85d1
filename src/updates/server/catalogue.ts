import { compareVersions } from '../../shared/version.js';
import type { DownloadKeyClaims } from '../download-key.js';
import { installOrder } from '../package.js';
import type { PublishedPackage, UpdateStore } from './store.js';

/**
 * What the update server offers an enrolled appliance (enrolment.ts decides which appliance a
 * download key belongs to).
 */

/**
 * The packages newer than what the appliance runs (bases newer than its base, products newer
 * than its product), without those it has already downloaded (S11), in install order (S9).
 */
export function availableFor(
  store: UpdateStore,
  claims: Pick<DownloadKeyClaims, 'keyId' | 'product' | 'base'>,
): PublishedPackage[] {
  const downloaded = store.downloadedBy(claims.keyId);
  const newer = store
    .packages()
    .filter((p) => compareVersions(p.version, p.kind === 'base' ? claims.base : claims.product) > 0)
    .filter((p) => !downloaded.has(p.sha256));
  return installOrder(newer);
}

/** The shape a package has in API answers. */
export function describePackage(p: PublishedPackage) {
  return {
    id: p.sha256,
    kind: p.kind,
    version: p.version,
    requires: p.requires,
    size: p.size,
    sha256: p.sha256,
    releaseNotes: p.releaseNotes,
    createdAt: p.createdAt,
    url: `/api/v1/packages/${p.sha256}`,
  };
}

/** The file name a package is saved under on the operator's removable media. */
export const packageFileName = (p: Pick<PublishedPackage, 'kind' | 'version'>) =>
  `gatehouse-${p.kind}-${p.version}.ghpkg`;
