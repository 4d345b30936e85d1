import { z } from 'zod';

import { keyId, loadPrivateKey, loadPublicKey, verifyEd25519 } from '../../shared/crypto.js';
import type { KeyObject } from 'node:crypto';
import {
  BundleEntry,
  extractBundle,
  openBundle,
  writeBundle,
  type BundleKind,
  type BundleSource,
} from '../../shared/signed-bundle.js';
import { applianceErrors } from '../error-codes.js';

/**
 * The backup archive: a signed bundle (src/shared/signed-bundle.ts) marked GATEHOUSE-BACKUP,
 * signed by the identity key of the appliance that made it; the header carries that public key
 * so another appliance can decide whether to trust it.
 */
export const BACKUP: BundleKind = {
  marker: 'GATEHOUSE-BACKUP\n',
  errors: {
    TRUNCATED: applianceErrors.BACKUP_TRUNCATED,
    NOT_RECOGNISED: applianceErrors.BACKUP_NOT_RECOGNISED,
    CORRUPT: applianceErrors.BACKUP_CORRUPT,
  },
  noun: 'backup archive',
  fix: 'Use an unaltered copy downloaded from /appliance > Backup.',
};

export const BackupHeader = z.object({
  format: z.literal(1),
  product: z.literal('gatehouse'),
  productVersion: z.string(),
  schemaVersion: z.number().int(),
  appliance: z.string(),
  createdAt: z.string(),
  includesRecordings: z.boolean(),
  signer: z.object({ keyId: z.string(), publicKey: z.string() }),
  entries: z.array(BundleEntry),
});
export type BackupHeader = z.infer<typeof BackupHeader>;

export async function writeArchive(
  out: string,
  header: Omit<BackupHeader, 'entries' | 'signer' | 'format' | 'product'>,
  entries: BundleSource[],
  signingKey: KeyObject | string,
  publicKeyPem: string,
): Promise<BackupHeader> {
  const key = typeof signingKey === 'string' ? loadPrivateKey(signingKey) : signingKey;
  const id = keyId(publicKeyPem);
  const full = {
    format: 1 as const,
    product: 'gatehouse' as const,
    ...header,
    signer: { keyId: id, publicKey: publicKeyPem },
  };
  const written = await writeBundle(out, BACKUP.marker, full, entries, [{ key, keyId: id }]);
  return { ...full, entries: written.entries };
}

/**
 * Verify an archive completely and unpack its entries into `intoDir`. Throws before returning
 * anything if the archive is truncated, altered, signed by an untrusted key or malformed.
 */
export async function readArchive(
  file: string,
  intoDir: string,
  isTrustedSigner: (keyId: string) => boolean,
): Promise<BackupHeader> {
  const bundle = await openBundle(file, BACKUP);
  const header = BackupHeader.safeParse(bundle.header);
  if (!header.success) {
    throw applianceErrors.BACKUP_CORRUPT(
      `The backup archive header is malformed (${header.error.issues[0]?.path.join('.')}): the file is damaged or not from Gatehouse.`,
    );
  }
  const { signer } = header.data;
  let publicKey: KeyObject;
  try {
    publicKey = loadPublicKey(signer.publicKey);
  } catch {
    throw applianceErrors.BACKUP_CORRUPT(
      'The backup archive names a signing key that cannot be read.',
    );
  }
  const signature = bundle.signatures.find((s) => s.keyId === signer.keyId);
  if (
    keyId(publicKey) !== signer.keyId ||
    !signature ||
    !verifyEd25519(publicKey, bundle.headerBytes, Buffer.from(signature.signature, 'base64'))
  ) {
    throw applianceErrors.BACKUP_BAD_SIGNATURE(
      'The backup archive signature does not verify: the archive was altered after it was made. Use an unaltered copy.',
    );
  }
  if (!isTrustedSigner(signer.keyId)) {
    throw applianceErrors.BACKUP_UNTRUSTED_SIGNER(
      `The backup was signed by appliance key ${signer.keyId.slice(0, 16)}… ("${header.data.appliance}"), which this appliance does not trust. If you trust that appliance, pass its key id as trustedSigner (shown on its /appliance > Backup page).`,
      {
        fields: [
          {
            field: 'trustedSigner',
            message: `pass ${signer.keyId} to trust this archive's signer`,
          },
        ],
      },
    );
  }
  await extractBundle(bundle, intoDir, BACKUP);
  return header.data;
}
