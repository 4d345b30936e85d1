import { conflict } from '../shared/errors.js';
import { compareVersions } from '../shared/version.js';
import type { PackageKind } from './package.js';
import { updatesErrors } from './error-codes.js';

/**
 * The install-order rules (S9), pure: which package may install on which running software, and
 * how much disk an install needs. No I/O here, so each rule is tested on its own
 * (install-order.test.ts); the installer gives them what it read.
 */

export const MiB = 1024 * 1024;
export const mib = (n: number) => Math.ceil(n / MiB);

/** What a package says of itself (its manifest's words). */
export interface PackageClaim {
  kind: PackageKind;
  version: string;
  requires: { base?: string };
}

/** The versions of the running software. */
export interface RunningVersions {
  product: string;
  base: string;
}

/** Refuse a package that cannot install on what runs now: wrong kind, same, older, base too old. */
export function checkInstallOrder(
  pkg: PackageClaim,
  running: RunningVersions,
  opts: { force: boolean; expectKind?: PackageKind },
): void {
  const { kind, version, requires } = pkg;
  if (opts.expectKind && opts.expectKind !== kind)
    throw updatesErrors.PACKAGE_WRONG_KIND(
      `kind: this is a ${kind} package, not a ${opts.expectKind} package. Choose the ${opts.expectKind} package file, or install this one as a ${kind} update.`,
      { fields: [{ field: 'kind', message: `the package is a ${kind} package` }] },
    );
  const current = kind === 'product' ? running.product : running.base;
  const cmp = compareVersions(version, current);
  if (cmp === 0)
    throw conflict(
      updatesErrors.UPDATE_ALREADY_INSTALLED,
      `${kind} ${version} is already installed; there is nothing to do.`,
    );
  if (cmp < 0 && !opts.force)
    throw updatesErrors.UPDATE_DOWNGRADE(
      `${kind} ${version} is older than the installed ${current}. Downgrades are refused; choose force (API: "force": true) only if you mean to go back.`,
      { fields: [{ field: 'force', message: 'must be true to install an older version' }] },
    );
  if (kind === 'product' && requires.base && compareVersions(running.base, requires.base) < 0)
    throw updatesErrors.UPDATE_REQUIRES_BASE(
      `product ${version} needs base ${requires.base} or later; this appliance runs base ${running.base}. Install the base ${requires.base} update first (S9), then this one.`,
    );
}

/**
 * Refuse an install the data disk cannot hold: the unpacked payload, a database snapshot and
 * the pre-update backup (at most the database and files), and the reserve left free.
 */
export function checkDiskSpace(
  pkg: PackageClaim,
  sizes: { payload: number; database: number; free: number; reserveMiB: number; where: string },
): void {
  const { payload, database, free, reserveMiB, where } = sizes;
  const need = payload + 2 * database + reserveMiB * MiB;
  if (free < need)
    throw updatesErrors.UPDATE_DISK_FULL(
      `Not enough free disk space: installing ${pkg.kind} ${pkg.version} needs ${mib(need)} MiB (payload ${mib(payload)} MiB, database snapshot and backup ${mib(2 * database)} MiB, reserve ${reserveMiB} MiB) but ${mib(free)} MiB are free on ${where}. Free some space (e.g. delete old staged packages) and try again.`,
    );
}

/** What a package's entries show it to be: the product (its CLI), a base (its marker), or neither. */
export function contentKind(names: Set<string>, baseMarker: string): PackageKind | 'neither' {
  if (names.has('bin/gatehouse.js') && names.has('dist/src/cli/main.js')) return 'product';
  if (names.has(`node_modules/${baseMarker}`)) return 'base';
  return 'neither';
}

/** Staged packages in install order: bases first (a product may need one), then by version. */
export function installOrder<T extends { kind: PackageKind; version: string }>(list: T[]): T[] {
  return [...list].sort((a, b) =>
    a.kind !== b.kind ? (a.kind === 'base' ? -1 : 1) : compareVersions(a.version, b.version),
  );
}
