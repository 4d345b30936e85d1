import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../shared/errors.js';
import {
  MiB,
  checkDiskSpace,
  checkInstallOrder,
  contentKind,
  installOrder,
} from './install-order.js';

const running = { product: '1.4.0', base: '2.0.0' };

function refusal(fn: () => void) {
  try {
    fn();
  } catch (e) {
    if (isGatehouseError(e)) return { code: e.code, status: e.status, message: e.message };
    throw e;
  }
  return undefined;
}

describe('install order', () => {
  const product = (version: string, base?: string) => ({
    kind: 'product' as const,
    version,
    requires: base ? { base } : {},
  });

  it('accepts a newer product whose base is installed', () => {
    expect(
      refusal(() => checkInstallOrder(product('1.5.0', '2.0.0'), running, { force: false })),
    ).toBeUndefined();
  });

  it('refuses the installed version, a downgrade without force, and a product before its base', () => {
    const same = refusal(() => checkInstallOrder(product('1.4.0'), running, { force: false }));
    expect(same).toMatchObject({ code: 'UPDATE_ALREADY_INSTALLED', status: 409 });
    const older = refusal(() => checkInstallOrder(product('1.3.9'), running, { force: false }));
    expect(older).toMatchObject({ code: 'UPDATE_DOWNGRADE', status: 409 });
    expect(
      refusal(() => checkInstallOrder(product('1.3.9'), running, { force: true })),
    ).toBeUndefined();
    const needsBase = refusal(() =>
      checkInstallOrder(product('1.5.0', '2.1.0'), running, { force: false }),
    );
    expect(needsBase).toMatchObject({ code: 'UPDATE_REQUIRES_BASE', status: 409 });
    expect(needsBase?.message).toContain('Install the base 2.1.0 update first');
  });

  it('compares a base package with the running base, and refuses the wrong kind', () => {
    const base = { kind: 'base' as const, version: '2.0.0', requires: {} };
    expect(refusal(() => checkInstallOrder(base, running, { force: false }))).toMatchObject({
      code: 'UPDATE_ALREADY_INSTALLED',
    });
    const wrong = refusal(() =>
      checkInstallOrder(product('1.5.0'), running, { force: false, expectKind: 'base' }),
    );
    expect(wrong).toMatchObject({ code: 'PACKAGE_WRONG_KIND', status: 400 });
  });

  it('puts bases first, then versions in order (10 after 9)', () => {
    const list = [
      { kind: 'product' as const, version: '1.10.0' },
      { kind: 'product' as const, version: '1.9.0' },
      { kind: 'base' as const, version: '2.1.0' },
    ];
    expect(installOrder(list).map((p) => `${p.kind} ${p.version}`)).toEqual([
      'base 2.1.0',
      'product 1.9.0',
      'product 1.10.0',
    ]);
  });
});

describe('disk space and contents', () => {
  const pkg = { kind: 'product' as const, version: '1.5.0', requires: {} };
  const sizes = { payload: 10 * MiB, database: 5 * MiB, reserveMiB: 100, where: '/data' };

  it('needs the payload, twice the database and the reserve, exactly', () => {
    const need = 10 * MiB + 2 * 5 * MiB + 100 * MiB;
    expect(refusal(() => checkDiskSpace(pkg, { ...sizes, free: need }))).toBeUndefined();
    const short = refusal(() => checkDiskSpace(pkg, { ...sizes, free: need - 1 }));
    expect(short).toMatchObject({ code: 'UPDATE_DISK_FULL', status: 507 });
    expect(short?.message).toContain('needs 120 MiB');
  });

  it('tells a product from a base by its entries', () => {
    const names = (...n: string[]) => new Set(n);
    expect(contentKind(names('bin/gatehouse.js', 'dist/src/cli/main.js'), 'M')).toBe('product');
    expect(contentKind(names('node_modules/M'), 'M')).toBe('base');
    expect(contentKind(names('bin/gatehouse.js'), 'M')).toBe('neither');
  });
});
