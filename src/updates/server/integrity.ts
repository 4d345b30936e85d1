import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { GatehouseError } from '../../shared/errors.js';
import type { UpdateServerDir } from './data-dir.js';
import type { PublishedPackage } from './store.js';
import { updatesErrors } from '../error-codes.js';

export type StoredState = 'ok' | 'missing' | 'damaged';

export interface StoredPackage {
  package: PublishedPackage;
  state: StoredState;
  /** What is wrong, in words, when the state is not ok. */
  problem?: string;
}

interface Verdict {
  key: string;
  state: StoredState;
  problem?: string;
}

/**
 * Whether the stored copy of each published package still has the bytes that were published: a
 * disk can damage a file after `publish` verified it, and an appliance would then refuse every
 * download. The verdict is kept per file identity (inode, size, mtime) so a download does not
 * re-hash an unchanged file, while any write to the file is noticed.
 */
export class PackageIntegrity {
  private readonly verdicts = new Map<string, Verdict>();

  constructor(private readonly dir: UpdateServerDir) {}

  async check(pkg: PublishedPackage): Promise<StoredPackage> {
    const file = this.dir.packageFile(pkg.sha256);
    const stat = await fsp.stat(file).catch(() => undefined);
    if (!stat) return { package: pkg, state: 'missing', problem: `${file} is missing` };
    const key = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    let verdict = this.verdicts.get(pkg.sha256);
    if (verdict?.key !== key) {
      verdict = { key, ...(await judge(file, pkg, stat.size)) };
      this.verdicts.set(pkg.sha256, verdict);
    }
    return { package: pkg, state: verdict.state, problem: verdict.problem };
  }

  async checkAll(packages: PublishedPackage[]): Promise<StoredPackage[]> {
    const out: StoredPackage[] = [];
    // One at a time: hashing every package at once would compete with the downloads.
    for (const p of packages) out.push(await this.check(p));
    return out;
  }
}

async function judge(
  file: string,
  pkg: PublishedPackage,
  size: number,
): Promise<{ state: StoredState; problem?: string }> {
  if (size !== pkg.size)
    return { state: 'damaged', problem: `${file} has ${size} bytes, not ${pkg.size}` };
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  return digest === pkg.sha256
    ? { state: 'ok' }
    : { state: 'damaged', problem: `${file} has sha256 ${digest}, not ${pkg.sha256}` };
}

const label = (p: PublishedPackage) => `${p.kind} ${p.version}`;

/** What the operator of the update server does about a damaged or missing stored package. */
export const REPAIR_ADVICE =
  'publish the good package file again (`gatehouse update-server publish FILE --data-dir DIR`): it replaces the damaged copy; `gatehouse update-server verify --data-dir DIR` checks every stored package';

/** Refusal of a download whose stored copy is not the published package: nothing is sent. */
export function damagedOnServer(stored: StoredPackage): GatehouseError {
  return updatesErrors.PACKAGE_DAMAGED_ON_UPDATE_SERVER(
    `The update server's stored copy of ${label(stored.package)} is ${stored.state} (${stored.problem}), so it was not sent and nothing counts as downloaded. Ask the update server's operator to ${REPAIR_ADVICE}; then download again.`,
  );
}

/** Lines naming each stored package that is not ok, for logs and commands. */
export function describeDamage(stored: StoredPackage[]): string[] {
  return stored
    .filter((s) => s.state !== 'ok')
    .map(
      (s) => `${label(s.package)} (${s.package.sha256.slice(0, 16)}…): ${s.state}: ${s.problem}`,
    );
}
