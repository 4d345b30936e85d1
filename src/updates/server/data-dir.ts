import { existsSync } from 'node:fs';
import path from 'node:path';
import { updatesErrors } from '../error-codes.js';

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
      throw updatesErrors.UPDATE_SERVER_NOT_INITIALISED(
        `--data-dir ${this.root} is not an update server data directory. Create it with \`gatehouse update-server init --data-dir ${this.root} --release-key RELEASE.pub\`.`,
        { fields: [{ field: 'data-dir', message: 'is not an update server data directory' }] },
      );
    }
  }
}
