import { GatehouseError } from '../../shared/errors.js';
import { compareVersions } from '../../shared/version.js';
import { verifyDownloadKey, type DownloadKeyClaims } from '../download-key.js';
import { installOrder } from '../package.js';
import type { PublishedPackage, UpdateStore } from './store.js';

/**
 * What the update server decides: which appliance a download key belongs to, and which
 * published packages that appliance may download.
 */

/**
 * Verify a download key and bind its appliance: the first key naming an appliance binds that
 * name to its identity key; a key naming the same appliance with another identity key is
 * refused (it was made by another machine, or the appliance was re-installed).
 */
export function contactAppliance(
  store: UpdateStore,
  token: string,
  now = Date.now(),
): DownloadKeyClaims {
  const claims = verifyDownloadKey(token, now);
  const known = store.appliance(claims.appliance);
  if (known && known.keyId !== claims.keyId) {
    throw new GatehouseError(
      'DOWNLOAD_KEY_OTHER_APPLIANCE',
      403,
      `This key names appliance "${claims.appliance}", but it was made with identity key ${claims.keyId.slice(0, 16)}…, and this update server knows "${claims.appliance}" by identity key ${known.keyId.slice(0, 16)}…. Generate the key on the appliance "${claims.appliance}" itself. If that appliance was re-installed, ask the update server's operator to forget the old one (gatehouse update-server forget --appliance ${claims.appliance}).`,
      { fields: [{ field: 'downloadKey', message: 'belongs to another appliance' }] },
    );
  }
  store.touchAppliance({ ...claims, name: claims.appliance }, now);
  return claims;
}

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
