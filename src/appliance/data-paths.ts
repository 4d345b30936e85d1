import path from 'node:path';
import { GatehouseError } from '../shared/errors.js';
import { applianceErrors } from './error-codes.js';

/** Where everything of one appliance lives. Only paths here; no I/O policy. */
export class DataDir {
  constructor(readonly root: string) {}
  get identityFile() {
    return path.join(this.root, 'appliance.json');
  }
  get tlsKey() {
    return path.join(this.root, 'tls', 'key.pem');
  }
  get tlsCert() {
    return path.join(this.root, 'tls', 'cert.pem');
  }
  /** The site certificate authority's key and certificate (src/site/site-identity.ts). */
  get siteCa() {
    return path.join(this.root, 'keys', 'site-ca.pem');
  }
  /** This appliance's certificate issued by the site certificate authority. */
  get siteCert() {
    return path.join(this.root, 'tls', 'site-cert.pem');
  }
  get identityKey() {
    return path.join(this.root, 'keys', 'identity.key');
  }
  get identityPub() {
    return path.join(this.root, 'keys', 'identity.pub');
  }
  get csrfKey() {
    return path.join(this.root, 'keys', 'csrf.key');
  }
  get database() {
    return path.join(this.root, 'store', 'gatehouse.db');
  }
  get blobs() {
    return path.join(this.root, 'blobs');
  }
  get logs() {
    return path.join(this.root, 'logs');
  }
  get tmp() {
    return path.join(this.root, 'tmp');
  }
  /** Recordings of sessions in progress; moved into the blob store when each session ends. */
  get activeRecordings() {
    return path.join(this.root, 'recordings');
  }
}

export function notInitialised(root: string): GatehouseError {
  return applianceErrors.APPLIANCE_NOT_INITIALISED(
    `${root} is not an appliance data directory (no appliance.json). Create it with \`gatehouse appliance init --data-dir ${root} --name NAME\`.`,
  );
}
