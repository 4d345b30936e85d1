import { readdirSync } from 'node:fs';
import path from 'node:path';

import { compareVersions } from '../shared/version.js';
import { inspectPackage } from '../updates/package.js';
import type { Deployment } from './deployment.js';
import type { PlannedPackage } from './plan-types.js';
import { sharedErrors } from '../shared/error-codes.js';
import { orchestratorErrors } from './error-codes.js';

/** The signed packages (.ghpkg) of a directory, as the plan installs them. */
export async function packagesFromDir(dir: string): Promise<PlannedPackage[]> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.ghpkg'));
  } catch (e) {
    throw sharedErrors.VALIDATION_FAILED(
      `--packages ${dir}: cannot be read (${(e as NodeJS.ErrnoException).code}). Give the directory holding the .ghpkg files.`,
      {
        fields: [{ field: '--packages', message: 'cannot be read' }],
      },
    );
  }
  if (!files.length)
    throw sharedErrors.VALIDATION_FAILED(
      `--packages ${dir}: holds no .ghpkg package. Download the packages from the update server into it first.`,
      {
        fields: [{ field: '--packages', message: 'holds no package' }],
      },
    );
  const out: PlannedPackage[] = [];
  for (const f of files) {
    const file = path.resolve(dir, f);
    const pkg = await inspectPackage(file).catch((e: Error) => {
      throw sharedErrors.VALIDATION_FAILED(
        `--packages: ${f} is not a valid package (${e.message}).`,
        { fields: [{ field: '--packages', message: `${f} is not a valid package` }] },
      );
    });
    out.push({
      id: pkg.sha256,
      kind: pkg.manifest.kind,
      version: pkg.manifest.version,
      requiresBase: pkg.manifest.requires.base,
      size: pkg.size,
      file,
    });
  }
  return out;
}

/** --to VERSION: what the primary's update server offers up to that product version. */
export async function packagesFromServer(
  d: Deployment,
  primary: string,
  to: string,
): Promise<PlannedPackage[]> {
  const available = await d.call<
    {
      id: string;
      kind: 'base' | 'product';
      version: string;
      requires: { base?: string };
      size: number;
      sha256: string;
    }[]
  >(primary, 'POST', '/api/appliance/updates/check', {});
  const list = Array.isArray(available)
    ? available
    : (available as { available: typeof available }).available;
  const product = list.find((p) => p.kind === 'product' && p.version === to);
  if (!product)
    throw orchestratorErrors.UPGRADE_VERSION_NOT_OFFERED(
      `--to ${to}: the update server of ${primary} offers no product ${to} (it offers ${list.map((p) => `${p.kind} ${p.version}`).join(', ') || 'nothing'}).`,
      {
        fields: [{ field: '--to', message: 'is not offered by the update server' }],
      },
    );
  const bases = list.filter(
    (p) =>
      p.kind === 'base' &&
      product.requires.base &&
      compareVersions(p.version, product.requires.base) <= 0,
  );
  return [...bases, product].map((p) => ({
    id: p.sha256,
    serverId: p.id,
    kind: p.kind,
    version: p.version,
    requiresBase: p.requires.base,
    size: p.size,
  }));
}
