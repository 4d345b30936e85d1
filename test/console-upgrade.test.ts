import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  realpathSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { GATEHOUSE_BIN } from '../src/lab/processes.js';
import { SiteApi } from '../src/clients/site-api.js';
import { installConsole, unpackConsoleBuild } from '../src/clients/console-installation.js';
import { releaseKeyFromPem } from '../src/updates/package.js';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import { startTestAppliance, tempDir, type TestAppliance } from './support/appliance.js';
import {
  buildTestPackage,
  makeReleaseKey,
  uploadPackage,
  waitForSoftware,
} from './support/updates.js';
import { siteSignIn, type CliSignIn } from './support/cli.js';

const execFileP = promisify(execFile);

/** Run a command to its end; never throws, so refusals can be asserted. */
async function run(file: string, args: string[], env: Record<string, string> = {}) {
  try {
    const r = await execFileP(file, args, { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}
const gatehouse = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [GATEHOUSE_BIN, ...args], env);

const bump = (v: string, by: number) => {
  const [a, b, c] = v.split('.').map(Number);
  return `${a}.${b}.${c! + by}`;
};
const NEXT = bump(PRODUCT_VERSION, 1);
const AFTER_NEXT = bump(PRODUCT_VERSION, 2);

/** Stage a product package on the site and make the site run it. */
async function siteRuns(site: TestAppliance, file: string, version: string) {
  const up = await uploadPackage(site.api, file);
  expect(up.status, JSON.stringify(up.body)).toBe(201);
  const res = await site.api.call('POST', `/api/appliance/updates/staged/${up.body.id}/install`, {
    json: {},
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  await waitForSoftware(site.api, version);
}

describe('a console installation follows the site (S12, S13)', () => {
  let dir: string;
  let inst: string;
  let profile: string;
  let site: TestAppliance;
  let admin: CliSignIn;
  let release: { keyFile: string; pubFile: string };
  const pkgs: Record<string, string> = {};
  const launcher = () => path.join(inst, 'bin', 'gatehouse-console');
  const current = () => readlinkSync(path.join(inst, 'current'));
  const about = async () => {
    const r = await run(launcher(), ['about', '--json', '--profile', profile]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as {
      console: string;
      installation: string | null;
      site: { version: string } | null;
    };
  };

  beforeAll(async () => {
    dir = tempDir('gh-console-upgrade-');
    inst = path.join(dir, 'console');
    profile = path.join(dir, 'console.json');
    release = makeReleaseKey(dir);
    const foreign = makeReleaseKey(dir, 'foreign.key');
    const b = (version: string, keyFile: string, name: string) =>
      buildTestPackage({ kind: 'product', version, keyFile, out: path.join(dir, name) });
    pkgs.current = await b(PRODUCT_VERSION, release.keyFile, 'current.ghpkg');
    pkgs.next = await b(NEXT, release.keyFile, 'next.ghpkg');
    pkgs.foreign = await b(AFTER_NEXT, foreign.keyFile, 'foreign.ghpkg');
    // The site trusts both keys; the console only the release key.
    site = await startTestAppliance({
      name: 'console-site',
      releaseKeyFiles: [release.pubFile, foreign.pubFile],
    });
    admin = siteSignIn(site.proc);
  }, 120_000);

  it('gives console builds only to signed-in consoles', async () => {
    for (const p of ['/api/client/console/build', '/api/client/console/builds']) {
      const res = await site.anon.call<{ code: string }>('GET', p, {
        headers: { authorization: 'Bearer not-a-ticket' },
      });
      expect(res.status, p).toBe(401);
      expect(res.body.code).toBe('CLIENT_TICKET_INVALID');
    }
  });

  it('says which package to upload when the site holds no build of its version', async () => {
    const signIn = await gatehouse(
      ['console', 'sign-in', ...admin.args, '--profile', profile],
      admin.env,
    );
    expect(signIn.code, signIn.stderr).toBe(0);
    const out = path.join(dir, 'download.ghpkg');
    const r = await gatehouse(['console', 'download-build', '--out', out, '--profile', profile]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('CONSOLE_BUILD_NOT_AVAILABLE');
    expect(r.stderr).toContain(`upload the product package ${PRODUCT_VERSION}`);
    expect(existsSync(out)).toBe(false);
  });

  it('installs the console from a signed build; about reports its version and installation', async () => {
    const r = await gatehouse([
      'console',
      'install',
      '--dir',
      inst,
      '--package',
      pkgs.current!,
      '--release-key',
      release.pubFile,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(current()).toBe(path.join('versions', PRODUCT_VERSION));
    expect(await about()).toMatchObject({
      console: PRODUCT_VERSION,
      installation: realpathSync(inst),
      site: { version: PRODUCT_VERSION },
    });
  });

  it('upgrades itself to the version the site runs at sign-in, restarts, and keeps the old version', async () => {
    await siteRuns(site, pkgs.next!, NEXT);
    // A console run from a code tree only says how to follow the site.
    const dev = await gatehouse(
      ['console', 'sign-in', ...admin.args, '--profile', profile],
      admin.env,
    );
    expect(dev.code, dev.stderr).toBe(0);
    expect(dev.stdout).toContain(`the site runs ${NEXT}`);
    expect(dev.stdout).toContain('gatehouse console install');
    expect(current()).toBe(path.join('versions', PRODUCT_VERSION));
    // The installed package stays staged: it is the console build of the site's version.
    const api = new SiteApi({
      host: site.proc.host,
      port: site.proc.port,
      fingerprint: site.proc.fingerprint,
    });
    try {
      const { ticket } = JSON.parse(readFileSync(profile, 'utf8')) as { ticket: string };
      expect(await api.consoleBuilds(ticket)).toMatchObject({
        siteVersion: NEXT,
        builds: [{ version: NEXT, current: true }],
      });
    } finally {
      await api.close();
    }

    // Only the restarted console (the new version) writes the sign-in.
    rmSync(profile);
    const r = await run(launcher(), ['sign-in', ...admin.args, '--profile', profile], admin.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `This console is ${PRODUCT_VERSION}; the site runs ${NEXT}: upgrading.`,
    );
    expect(r.stdout).toContain(`Installed the site's console build ${NEXT}`);
    // The restarted console (the new version) signed in and kept the sign-in.
    expect(r.stdout).toMatch(/Signed in to .* as admin until .*, with console \S+\.\n/);
    expect(/with console (\S+)\.\n/.exec(r.stdout)?.[1]).toBe(NEXT);
    expect(current()).toBe(path.join('versions', NEXT));
    expect(await about()).toMatchObject({ console: NEXT, site: { version: NEXT } });
    expect(readdirSync(path.join(inst, 'versions')).sort()).toEqual([NEXT, PRODUCT_VERSION].sort());
    const events = await site.api.call<{ items: { action: string; target: string }[] }>(
      'GET',
      '/api/login/logs?action=console.build-downloaded',
    );
    expect(events.body.items.map((e) => e.target)).toContain(NEXT);
  });

  it('refuses a site build signed by a key the installation does not trust, changing nothing', async () => {
    await siteRuns(site, pkgs.foreign!, AFTER_NEXT);
    const r = await run(launcher(), ['sign-in', ...admin.args, '--profile', profile], admin.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('PACKAGE_UNTRUSTED_SIGNER');
    expect(r.stderr).toContain(`This console (${NEXT}) is unchanged.`);
    expect(current()).toBe(path.join('versions', NEXT));
    expect(readdirSync(path.join(inst, 'versions')).sort()).toEqual([NEXT, PRODUCT_VERSION].sort());
    expect((await about()).console).toBe(NEXT);
    // `connect` checks the site's version before it listens, and refuses the same way.
    const c = await run(launcher(), [
      'connect',
      '--jump-client',
      'none',
      '--target',
      '127.0.0.1:22',
      '--listen',
      '127.0.0.1:0',
      '--profile',
      profile,
    ]);
    expect(c.code).not.toBe(0);
    expect(c.stdout).toContain(`the site runs ${AFTER_NEXT}: upgrading.`);
    expect(c.stderr).toContain('PACKAGE_UNTRUSTED_SIGNER');
    expect(current()).toBe(path.join('versions', NEXT));
  });

  it('uninstall-old removes every version but the current one', async () => {
    const r = await gatehouse(['console', 'uninstall-old', '--dir', inst]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Removed ${PRODUCT_VERSION}`);
    expect(readdirSync(path.join(inst, 'versions'))).toEqual([NEXT]);
    expect((await about()).console).toBe(NEXT);
  });

  it('refuses truncated, altered and wrong-version builds before switching', async () => {
    const keys = [releaseKeyFromPem(readFileSync(release.pubFile, 'utf8'))];
    const own = path.join(dir, 'own');
    await installConsole({ dir: own, keys, packageFile: pkgs.current });
    const modules = realpathSync(path.join(own, 'versions', PRODUCT_VERSION, 'node_modules'));
    const bytes = readFileSync(pkgs.next!);
    const truncated = path.join(dir, 'truncated.ghpkg');
    copyFileSync(pkgs.next!, truncated);
    truncateSync(truncated, Math.floor(bytes.length / 2));
    const altered = path.join(dir, 'altered.ghpkg');
    const a = Buffer.from(bytes);
    a[a.length - 100] = a[a.length - 100]! ^ 0xff;
    writeFileSync(altered, a);
    const cases: [string, string | undefined, string][] = [
      [truncated, NEXT, 'PACKAGE_TRUNCATED'],
      [altered, NEXT, 'PACKAGE_CORRUPT'],
      [pkgs.next!, '9.9.9', 'CLIENT_BUILD_WRONG_VERSION'],
      [pkgs.foreign!, AFTER_NEXT, 'PACKAGE_UNTRUSTED_SIGNER'],
    ];
    for (const [file, expectedVersion, code] of cases) {
      await expect(
        unpackConsoleBuild(own, file, { keys, expectedVersion, modules }),
        path.basename(file),
      ).rejects.toMatchObject({ code });
      expect(readdirSync(path.join(own, 'versions'))).toEqual([PRODUCT_VERSION]);
      expect(readlinkSync(path.join(own, 'current'))).toBe(path.join('versions', PRODUCT_VERSION));
    }
  });
});
