import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateEd25519, keyId, loadPrivateKey, loadPublicKey } from '../src/shared/crypto.js';
import { CODE_ROOT, PRODUCT_VERSION } from '../src/shared/version.js';
import { buildPackage } from '../src/updates/package.js';

/**
 * `n` product packages of this code tree, each one patch version above the one before (an
 * appliance installs only a newer version), signed with a release key made for the run.
 */
export async function buildPackages(
  dir: string,
  n: number,
): Promise<{ releasePub: string; files: string[]; versions: string[] }> {
  mkdirSync(dir, { recursive: true });
  const pair = generateEd25519();
  const releasePub = path.join(dir, 'release.pub');
  writeFileSync(releasePub, pair.publicKeyPem);
  const signer = {
    key: loadPrivateKey(pair.privateKeyPem),
    keyId: keyId(loadPublicKey(pair.publicKeyPem)),
  };
  const files: string[] = [];
  const versions: string[] = [];
  for (let i = 1; i <= n; i++) {
    const version = PRODUCT_VERSION.replace(/(\d+)$/, (p) => String(Number(p) + i));
    const out = path.join(dir, `product-${version}.ghpkg`);
    const tmpDir = path.join(dir, `.build-${version}`);
    try {
      await buildPackage({
        kind: 'product',
        version,
        from: CODE_ROOT,
        out,
        signers: [signer],
        tmpDir,
      });
    } finally {
      rmSync(tmpDir, { recursive: true, force: true });
    }
    files.push(out);
    versions.push(version);
  }
  return { releasePub, files, versions };
}
