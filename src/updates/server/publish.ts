import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GatehouseError, isGatehouseError } from '../../shared/errors.js';
import { renameDurably } from '../../shared/fs.js';
import { checkPayload, verifyPackage, type InspectedPackage, type ReleaseKey } from '../package.js';
import type { UpdateServerDir } from './data-dir.js';
import { PackageIntegrity } from './integrity.js';
import { loadReleaseKeys } from '../release-keys.js';
import type { PublishedPackage, UpdateStore } from './store.js';
import { updatesErrors } from '../error-codes.js';

export interface PublishResult {
  package: PublishedPackage;
  /** False when this very file was already published (publishing is idempotent). */
  added: boolean;
  /** True when the stored copy was damaged or missing and this file replaced it. */
  repaired: boolean;
}

/**
 * Publish a package file: its signature must verify against the release keys this server
 * accepts and every entry must match its digest, so that nothing an appliance would refuse is
 * ever offered. The file is copied into packages/<sha256>.ghpkg before the catalogue names it.
 */
export async function publishPackage(
  dir: UpdateServerDir,
  store: UpdateStore,
  file: string,
  now = Date.now(),
): Promise<PublishResult> {
  if (!existsSync(file))
    throw updatesErrors.PACKAGE_FILE_NOT_FOUND(
      `${file} does not exist. Give the path of a .ghpkg file.`,
      {
        fields: [{ field: 'file', message: 'does not exist' }],
      },
    );
  const pkg = await verifyForServer(file, loadReleaseKeys(dir.keys));
  await checkPayload(pkg);
  const { manifest } = pkg;
  const existing = store.package(pkg.sha256);
  if (existing && (await new PackageIntegrity(dir).check(existing)).state === 'ok')
    return { package: existing, added: false, repaired: false };
  const sameVersion = store.packageByVersion(manifest.kind, manifest.version);
  if (sameVersion && sameVersion.sha256 !== pkg.sha256) {
    throw updatesErrors.PACKAGE_VERSION_ALREADY_PUBLISHED(
      `A different ${manifest.kind} package ${manifest.version} is already published (sha256 ${sameVersion.sha256.slice(0, 16)}…). Appliances tell packages apart by version: build this one with a new version number.`,
    );
  }
  await copyVerified(file, dir.packageFile(pkg.sha256), pkg.sha256);
  const published: PublishedPackage = {
    sha256: pkg.sha256,
    kind: manifest.kind,
    version: manifest.version,
    requires: manifest.requires,
    releaseNotes: manifest.releaseNotes,
    createdAt: manifest.createdAt,
    size: pkg.size,
    signerKeyIds: pkg.signerKeyIds,
    publishedAt: now,
  };
  if (!existing) store.addPackage(published);
  return { package: existing ?? published, added: !existing, repaired: !!existing };
}

async function verifyForServer(file: string, trusted: ReleaseKey[]): Promise<InspectedPackage> {
  try {
    return await verifyPackage(file, trusted);
  } catch (e) {
    // verifyPackage speaks to an appliance; here the decision is the update server's.
    if (isGatehouseError(e) && e.code === 'PACKAGE_UNTRUSTED_SIGNER') {
      throw new GatehouseError(
        e.code,
        e.status,
        `${file} is not signed by a release key this update server accepts (${trusted.map((k) => k.keyId.slice(0, 16) + '…').join(', ')}). Sign it with a release key given to \`update-server init --release-key\`.`,
      );
    }
    throw e;
  }
}

/** Copy to `dest` atomically, checking the copied bytes are the ones that were verified. */
async function copyVerified(src: string, dest: string, sha256: string): Promise<void> {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.${randomBytes(6).toString('hex')}.tmp`;
  const hash = createHash('sha256');
  try {
    const source = createReadStream(src);
    source.on('data', (c) => hash.update(c as Buffer));
    await pipeline(source, createWriteStream(tmp, { mode: 0o644 }));
    if (hash.digest('hex') !== sha256)
      throw updatesErrors.PACKAGE_CHANGED_WHILE_PUBLISHING(
        `${src} changed while it was being published. Publish it again once it is complete.`,
      );
    await renameDurably(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}
