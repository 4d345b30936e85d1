import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateEd25519, randomToken } from '../shared/crypto.js';
import type { LabState } from './state.js';

/** Passwords that pass the default rules, made fresh for every lab. */
const password = () => `Lab-${randomToken(12)}-7a`;

function writeSecret(dir: string, rel: string, value: string): string {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return rel;
}

/** An account of the lab: its name, and a fresh password in DIR/secrets/FILE.password. */
const account = (dir: string, username: string, file: string) => ({
  username,
  passwordFile: writeSecret(dir, `secrets/${file}.password`, password()),
});

/**
 * The lab's secrets, each in its own file (mode 600) under DIR/secrets, referred to by path
 * relative to DIR: nothing secret is printed or put in lab.json or the inventory.
 */
export function createSecrets(
  dir: string,
): Pick<LabState, 'credentials' | 'interApplianceKeyFile' | 'releaseKey'> {
  const release = generateEd25519();
  const releaseKey = {
    privateKey: writeSecret(dir, 'release/release.key', release.privateKeyPem.trim()),
    publicKey: 'release/release.key.pub',
  };
  writeFileSync(path.join(dir, releaseKey.publicKey), release.publicKeyPem);
  return {
    credentials: {
      appliance: account(dir, 'admin', 'appliance-admin'),
      login: account(dir, 'admin', 'login-admin'),
      representative: account(dir, 'lab.rep', 'representative'),
      updateServer: account(dir, 'operator', 'update-server-operator'),
    },
    interApplianceKeyFile: writeSecret(
      dir,
      'secrets/inter-appliance.key',
      `lab-${randomToken(30)}`,
    ),
    releaseKey,
  };
}

export function saveJumpClientToken(dir: string, token: string): string {
  return writeSecret(dir, 'secrets/jump-client.token', token);
}

/** A secret file of the lab (path relative to DIR), first line. */
export const readLabSecret = (dir: string, rel: string) =>
  readFileSync(path.join(dir, rel), 'utf8').split('\n')[0]!;
