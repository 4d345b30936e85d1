import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fieldError } from '../shared/errors.js';
import { writeFileAtomicSync } from '../shared/fs.js';
import { releaseKeyFromPem, type ReleaseKey } from './package.js';

/**
 * Release keys: the public keys whose signed packages an appliance installs (fixed at
 * `appliance init`, in keys/release) or an update server publishes (keys/). One file per key,
 * `<keyId>.pub`.
 */

/** Parse PEM text as an Ed25519 release public key; the error names the flag and the file. */
export function parseReleaseKey(pem: string, source: string): ReleaseKey {
  let key: ReleaseKey | undefined;
  try {
    key = releaseKeyFromPem(pem);
  } catch {
    key = undefined;
  }
  // A private key also yields a public key; refuse it so that no private key is ever stored.
  if (!key || key.publicKey.asymmetricKeyType !== 'ed25519' || pem.includes('PRIVATE KEY')) {
    throw fieldError(
      'release-key',
      `${source} is not an Ed25519 public key in PEM form ("-----BEGIN PUBLIC KEY-----"). Give the release key's .pub file (from \`gatehouse package keygen\`), never its private key.`,
    );
  }
  return key;
}

/** Store keys as <keyId>.pub (the SPKI PEM re-exported, not the given text). */
export function saveReleaseKeys(keysDir: string, keys: ReleaseKey[]): string[] {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  for (const k of keys) {
    const pem = k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileAtomicSync(path.join(keysDir, `${k.keyId}.pub`), pem, 0o644);
  }
  return keys.map((k) => k.keyId);
}

export function loadReleaseKeys(keysDir: string): ReleaseKey[] {
  if (!existsSync(keysDir)) return [];
  return readdirSync(keysDir)
    .filter((f) => f.endsWith('.pub'))
    .sort()
    .map((f) => parseReleaseKey(readFileSync(path.join(keysDir, f), 'utf8'), f));
}

/** Where an appliance keeps the release keys it trusts. */
export const applianceReleaseKeysDir = (dataDir: string) => path.join(dataDir, 'keys', 'release');
