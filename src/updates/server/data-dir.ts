import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GatehouseError, fieldError } from '../../shared/errors.js';
import { writeFileAtomicSync } from '../../shared/fs.js';
import { releaseKeyFromPem, type ReleaseKey } from '../package.js';

/**
 * Where everything of one update server lives:
 *
 *   tls/key.pem, tls/cert.pem   its self-signed certificate (clients pin the fingerprint)
 *   keys/<keyId>.pub            the release public keys whose packages it publishes
 *   server.db                   catalogue, appliances, downloads, operator (SQLite, WAL)
 *   packages/<sha256>.ghpkg     the published package files, named by their digest
 */
export class UpdateServerDir {
  constructor(readonly root: string) {}
  get tlsKey() {
    return path.join(this.root, 'tls', 'key.pem');
  }
  get tlsCert() {
    return path.join(this.root, 'tls', 'cert.pem');
  }
  get keys() {
    return path.join(this.root, 'keys');
  }
  get database() {
    return path.join(this.root, 'server.db');
  }
  get packages() {
    return path.join(this.root, 'packages');
  }
  packageFile(sha256: string) {
    return path.join(this.packages, `${sha256}.ghpkg`);
  }

  /** Refuse a directory that `update-server init` did not make. */
  requireInitialised(): void {
    if (!existsSync(this.database) || !existsSync(this.tlsCert)) {
      throw new GatehouseError(
        'UPDATE_SERVER_NOT_INITIALISED',
        400,
        `--data-dir ${this.root} is not an update server data directory. Create it with \`gatehouse update-server init --data-dir ${this.root} --release-key RELEASE.pub\`.`,
        { fields: [{ field: 'data-dir', message: 'is not an update server data directory' }] },
      );
    }
  }
}

/** Parse PEM text as an Ed25519 release public key; the error names the flag and the file. */
export function parseReleaseKey(pem: string, source: string): ReleaseKey {
  let key: ReleaseKey | undefined;
  try {
    key = releaseKeyFromPem(pem);
  } catch {
    key = undefined;
  }
  // A private key also yields a public key; refuse it so that no private key is ever stored here.
  if (!key || key.publicKey.asymmetricKeyType !== 'ed25519' || pem.includes('PRIVATE KEY')) {
    throw fieldError(
      'release-key',
      `${source} is not an Ed25519 public key in PEM form ("-----BEGIN PUBLIC KEY-----"). Give the release key's .pub file, never its private key.`,
    );
  }
  return key;
}

/** Store release keys as keys/<keyId>.pub (the SPKI PEM re-exported, not the given text). */
export function saveReleaseKeys(dir: UpdateServerDir, keys: ReleaseKey[]): void {
  mkdirSync(dir.keys, { recursive: true, mode: 0o700 });
  for (const k of keys) {
    const pem = k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileAtomicSync(path.join(dir.keys, `${k.keyId}.pub`), pem, 0o644);
  }
}

export function loadReleaseKeys(dir: UpdateServerDir): ReleaseKey[] {
  if (!existsSync(dir.keys)) return [];
  return readdirSync(dir.keys)
    .filter((f) => f.endsWith('.pub'))
    .sort()
    .map((f) => parseReleaseKey(readFileSync(path.join(dir.keys, f), 'utf8'), f));
}
