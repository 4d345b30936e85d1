import { mkdirSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

import { DataDir, notInitialised } from './data-paths.js';
import { generateEd25519, randomToken } from '../shared/crypto.js';
import { writeFileAtomicSync } from '../shared/fs.js';
import { generateSelfSignedCertificate, splitHostsAndIps } from '../shared/tls.js';
import { applianceErrors } from './error-codes.js';
import { updatesErrors } from '../updates/error-codes.js';

export { DataDir, notInitialised } from './data-paths.js';

export const ApplianceIdentity = z.object({
  format: z.literal(1),
  name: z.string(),
  hostnames: z.array(z.string()),
  addresses: z.array(z.string()),
  createdAt: z.string(),
});
export type ApplianceIdentity = z.infer<typeof ApplianceIdentity>;

export function readIdentity(dir: DataDir): ApplianceIdentity {
  if (!existsSync(dir.identityFile)) throw notInitialised(dir.root);
  const parsed = ApplianceIdentity.safeParse(JSON.parse(readFileSync(dir.identityFile, 'utf8')));
  if (!parsed.success) {
    throw applianceErrors.APPLIANCE_IDENTITY_CORRUPT(
      `${dir.identityFile} is damaged: ${parsed.error.issues[0]?.message}. Restore it from a copy of the data directory.`,
    );
  }
  return parsed.data;
}

/**
 * Lay down the files that make a directory an appliance: identity, TLS key and certificate,
 * identity signing key, CSRF secret. The caller creates the database and accounts, then
 * calls `writeIdentity`.
 * Refuses a directory that already holds an appliance or anything else.
 */
export async function createDataDir(
  dir: DataDir,
  opts: { name: string; hostnames: string[]; addresses: string[] },
): Promise<ApplianceIdentity> {
  if (existsSync(dir.root) && readdirSync(dir.root).length > 0) {
    throw updatesErrors.DATA_DIR_NOT_EMPTY(
      `--data-dir ${dir.root} is not empty. Choose a new directory; an existing appliance is started with \`gatehouse appliance start\`.`,
      { fields: [{ field: 'data-dir', message: 'must be a new or empty directory' }] },
    );
  }
  for (const sub of ['tls', 'keys', 'store', 'blobs', 'logs', 'tmp']) {
    mkdirSync(path.join(dir.root, sub), { recursive: true, mode: 0o700 });
  }
  const { dnsNames, ipAddresses } = splitHostsAndIps([...opts.hostnames, ...opts.addresses]);
  const tls = await generateSelfSignedCertificate({
    commonName: opts.hostnames[0] ?? opts.name,
    dnsNames: dnsNames.length ? dnsNames : [opts.name],
    ipAddresses,
  });
  writeFileAtomicSync(dir.tlsKey, tls.keyPem, 0o600);
  writeFileAtomicSync(dir.tlsCert, tls.certPem, 0o644);
  const identity = generateEd25519();
  writeFileAtomicSync(dir.identityKey, identity.privateKeyPem, 0o600);
  writeFileAtomicSync(dir.identityPub, identity.publicKeyPem, 0o644);
  writeFileAtomicSync(dir.csrfKey, randomToken(32), 0o600);
  return {
    format: 1,
    name: opts.name,
    hostnames: opts.hostnames,
    addresses: opts.addresses,
    createdAt: new Date().toISOString(),
  };
}

/** Written last by `init`: its presence means the directory is complete. */
export function writeIdentity(dir: DataDir, doc: ApplianceIdentity): void {
  writeFileAtomicSync(dir.identityFile, JSON.stringify(doc, null, 2) + '\n', 0o644);
}
