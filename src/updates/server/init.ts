import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import {
  generateSelfSignedCertificate,
  certificateFingerprint,
  splitHostsAndIps,
} from '../../shared/tls.js';
import { hashPassword, randomToken } from '../../shared/crypto.js';
import { fieldError } from '../../shared/errors.js';
import { writeFileAtomicSync } from '../../shared/fs.js';
import { passwordProblem } from '../../site/users.js';
import type { ReleaseKey } from '../package.js';
import { UpdateServerDir } from './data-dir.js';
import { saveReleaseKeys } from '../release-keys.js';
import { UpdateStore } from './store.js';
import { siteErrors } from '../../site/error-codes.js';
import { updatesErrors } from '../error-codes.js';

export const OPERATOR = 'operator';
const MIN_PASSWORD_LENGTH = 12;

export interface InitUpdateServerOptions {
  dataDir: string;
  releaseKeys: ReleaseKey[];
  adminPassword?: string;
  hostnames: string[];
  addresses: string[];
}

export interface InitUpdateServerResult {
  fingerprint: string;
  releaseKeyIds: string[];
  /** Set when no password was given: shown once, stored only as a hash. */
  generatedPassword?: string;
}

/**
 * Create an update server data directory: TLS certificate, release keys, database with the
 * operator's password hash and the secrets of sessions and download tickets. A failure part-way
 * removes what it made, so init can be run again.
 */
export async function initUpdateServer(
  opts: InitUpdateServerOptions,
): Promise<InitUpdateServerResult> {
  const dir = new UpdateServerDir(opts.dataDir);
  if (opts.releaseKeys.length === 0)
    throw fieldError(
      'release-key',
      'give at least one release public key (.pub) whose packages this server publishes',
    );
  if (opts.adminPassword !== undefined) {
    const problem = passwordProblem(opts.adminPassword, OPERATOR, MIN_PASSWORD_LENGTH);
    if (problem)
      throw fieldError(
        'admin-password-file',
        `the password ${problem}`,
        siteErrors.PASSWORD_TOO_WEAK,
      );
  }
  const existed = existsSync(dir.root);
  if (existed && readdirSync(dir.root).length > 0) {
    throw updatesErrors.DATA_DIR_NOT_EMPTY(
      `--data-dir ${dir.root} is not empty. Choose a new directory; an existing update server is started with \`gatehouse update-server start\`.`,
      { fields: [{ field: 'data-dir', message: 'must be a new or empty directory' }] },
    );
  }
  try {
    for (const sub of ['tls', 'keys', 'packages'])
      mkdirSync(`${dir.root}/${sub}`, { recursive: true, mode: 0o700 });
    const { dnsNames, ipAddresses } = splitHostsAndIps([...opts.hostnames, ...opts.addresses]);
    const tls = await generateSelfSignedCertificate({
      commonName: opts.hostnames[0] ?? 'gatehouse-update-server',
      dnsNames: dnsNames.length ? dnsNames : ['localhost'],
      ipAddresses: ipAddresses.length ? ipAddresses : ['127.0.0.1'],
    });
    writeFileAtomicSync(dir.tlsKey, tls.keyPem, 0o600);
    writeFileAtomicSync(dir.tlsCert, tls.certPem, 0o644);
    saveReleaseKeys(dir.keys, opts.releaseKeys);
    const password = opts.adminPassword ?? `Gh-${randomToken(15)}7a`;
    const store = UpdateStore.open(dir.database);
    try {
      store.setSetting('admin_password_hash', await hashPassword(password));
      store.setSetting('csrf_secret', randomToken(32));
      store.setSetting('ticket_secret', randomToken(32));
    } finally {
      store.close();
    }
    return {
      fingerprint: certificateFingerprint(tls.certPem),
      releaseKeyIds: opts.releaseKeys.map((k) => k.keyId),
      ...(opts.adminPassword === undefined ? { generatedPassword: password } : {}),
    };
  } catch (e) {
    if (existed) {
      for (const sub of ['tls', 'keys', 'packages', 'server.db', 'server.db-wal', 'server.db-shm'])
        rmSync(`${dir.root}/${sub}`, { recursive: true, force: true });
    } else rmSync(dir.root, { recursive: true, force: true });
    throw e;
  }
}
