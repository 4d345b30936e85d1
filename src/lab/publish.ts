import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { keyId, loadPrivateKey, loadPublicKey } from '../shared/crypto.js';

import { CODE_ROOT, PRODUCT_VERSION } from '../shared/version.js';
import { buildPackage, type PackageKind } from '../updates/package.js';
import { GATEHOUSE_BIN } from './processes.js';
import { requireState } from './state.js';
import { labErrors } from './error-codes.js';

const execFileP = promisify(execFile);

const nextPatch = (v: string) => {
  const [major, minor, patch] = v.split('.').map(Number) as [number, number, number];
  return `${major}.${minor}.${patch + 1}`;
};

/**
 * `gatehouse lab publish-next`: signed packages built from this very code tree with the lab's
 * release key, published to the lab's update server (it accepts them while it runs), so the
 * appliances find them with Check for updates.
 */
export async function publishNext(
  dirArg: string,
  o: { version?: string; base?: string },
): Promise<{ kind: PackageKind; version: string; file: string }[]> {
  const state = requireState(path.resolve(dirArg));
  if (!state.updateServer)
    throw labErrors.LAB_NO_UPDATE_SERVER(
      `--dir ${state.dir}: this lab has no update server (lab up did not finish). Start a new lab.`,
    );
  const key = loadPrivateKey(
    readFileSync(path.join(state.dir, state.releaseKey.privateKey), 'utf8'),
  );
  const pub = readFileSync(path.join(state.dir, state.releaseKey.publicKey), 'utf8');
  const signers = [{ key, keyId: keyId(loadPublicKey(pub)) }];
  const version = o.version ?? nextPatch(PRODUCT_VERSION);
  const wanted: { kind: PackageKind; version: string }[] = [
    ...(o.base ? [{ kind: 'base' as const, version: o.base }] : []),
    { kind: 'product', version },
  ];
  const built: { kind: PackageKind; version: string; file: string }[] = [];
  for (const w of wanted) {
    const file = path.join(state.dir, 'packages', `${w.kind}-${w.version}.ghpkg`);
    const tmpDir = path.join(state.dir, 'packages', `.build-${w.kind}-${w.version}`);
    try {
      await buildPackage({
        kind: w.kind,
        version: w.version,
        from: CODE_ROOT,
        out: file,
        signers,
        ...(w.kind === 'product' && o.base ? { requiresBase: o.base } : {}),
        releaseNotes: `Lab ${w.kind} ${w.version}, built from ${CODE_ROOT}`,
        tmpDir,
      });
    } finally {
      rmSync(tmpDir, { recursive: true, force: true });
    }
    try {
      await execFileP(process.execPath, [
        GATEHOUSE_BIN,
        'update-server',
        'publish',
        file,
        '--data-dir',
        state.updateServer.dataDir,
      ]);
    } catch (e) {
      throw labErrors.LAB_PUBLISH_FAILED(
        `Publishing ${file} failed: ${((e as { stderr?: string }).stderr ?? String(e)).trim()}`,
      );
    }
    built.push({ ...w, file });
  }
  return built;
}
