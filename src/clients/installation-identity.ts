import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { generateEd25519, loadPrivateKey, signEd25519 } from '../shared/crypto.js';

import { writeFileAtomicSync } from '../shared/fs.js';
import { clientsErrors } from './error-codes.js';

interface Stored {
  name: string;
  privateKeyPem: string;
  publicKeyPem: string;
  /** The site's id of this installation, once enrolled. */
  installation?: string;
}

/**
 * A Jump Client installation's own identity: an Ed25519 key pair generated here, whose private
 * half never leaves the computer, and the installation id the site gave its public half at
 * enrolment. Kept in a file (mode 600) so the installation stays itself across restarts; without
 * a file (a client embedded in a test or a probe) it lives as long as the process.
 */
export class InstallationIdentity {
  private constructor(
    private stored: Stored,
    private readonly file: string | undefined,
  ) {}

  static open(name: string, file?: string): InstallationIdentity {
    if (file) {
      let text: string | undefined;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw unreadable(file, e);
      }
      if (text !== undefined) {
        const stored = JSON.parse(text) as Stored;
        if (stored.name !== name)
          throw clientsErrors.JUMP_CLIENT_IDENTITY_OTHER_NAME(
            `--identity: ${file} is the identity of the Jump Client "${stored.name}", not "${name}". Give each Jump Client its own identity file.`,
          );
        return new InstallationIdentity(stored, file);
      }
    }
    const identity = new InstallationIdentity({ name, ...generateEd25519() }, file);
    identity.save();
    return identity;
  }

  get publicKeyPem(): string {
    return this.stored.publicKeyPem;
  }

  get installation(): string | undefined {
    return this.stored.installation;
  }

  set installation(id: string | undefined) {
    this.stored = { ...this.stored, installation: id };
    this.save();
  }

  /** The signature the site asks for to register (see `registrationMessage`). */
  sign(message: Uint8Array): string {
    return signEd25519(loadPrivateKey(this.stored.privateKeyPem), message).toString('base64url');
  }

  private save(): void {
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileAtomicSync(this.file, JSON.stringify(this.stored, null, 2), 0o600);
  }
}

const unreadable = (file: string, e: unknown) =>
  clientsErrors.JUMP_CLIENT_IDENTITY_UNREADABLE(
    `--identity: ${file} cannot be read (${(e as NodeJS.ErrnoException).code}). Check its owner and mode (600).`,
  );
