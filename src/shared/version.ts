import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The version this code reports is the version written into the package.json that shipped with
 * it: an installed product package brings its own package.json, so the running code says what it
 * is rather than a database field saying what it should be.
 */
interface PackageJson {
  version: string;
  gatehouse?: { baseVersion?: string };
}

function findPackageJson(): { file: string; json: PackageJson } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    try {
      const json = JSON.parse(readFileSync(file, 'utf8')) as PackageJson & { name?: string };
      if (json.name === 'gatehouse') return { file, json };
    } catch {
      // not here; keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error('gatehouse package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

const pkg = findPackageJson();

export const PRODUCT_VERSION: string = pkg.json.version;
/** Root of the running code tree (where package.json is). */
export const CODE_ROOT: string = path.dirname(pkg.file);

/**
 * The base version is that of the runtime layer actually loaded: an installed base package
 * marks its node_modules; the factory tree falls back to its package.json.
 */
function loadedBaseVersion(): string {
  try {
    const marker = path.join(CODE_ROOT, 'node_modules', '.gatehouse-base.json');
    return (JSON.parse(readFileSync(marker, 'utf8')) as { version: string }).version;
  } catch {
    return pkg.json.gatehouse?.baseVersion ?? '0.0.0';
  }
}
export const BASE_VERSION: string = loadedBaseVersion();

/** Compare dotted numeric versions ("1.10.0" > "1.9.3"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
