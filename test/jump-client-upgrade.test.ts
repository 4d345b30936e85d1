import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jumpClientLauncher } from '../src/clients/jump-client-installation.js';
import type { RolloutStatus } from '../src/sessions/jump-client-upgrades.js';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import { readInstaller } from '../src/updates/jump-client-installer.js';
import { startTestAppliance, tempDir, until, type TestAppliance } from './support/appliance.js';
import { cliResult } from './support/cli.js';
import { enrolmentToken } from './support/jump-clients.js';
import {
  buildTestPackage,
  makeReleaseKey,
  uploadPackage,
  waitForSoftware,
} from './support/updates.js';

/**
 * S13: Jump Client installers of a staged version, installations replaced in place, and Jump
 * Clients that upgrade themselves to the site's build in throttled waves (canary first, at
 * most N at once, halted when a wave does not come back) — with real Jump Client processes
 * run by their installations' launchers, against a real appliance upgraded with signed packages.
 */
const bump = (v: string, by: number) => {
  const [a, b, c] = v.split('.').map(Number);
  return `${a}.${b}.${c! + by}`;
};
const NEXT = bump(PRODUCT_VERSION, 1);
const AFTER = bump(PRODUCT_VERSION, 2);
const OLD_CLIENTS = ['jc-a', 'jc-b', 'jc-c', 'jc-canary'];

interface Launched {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}
const launched = new Map<string, Launched>();

afterAll(() => {
  // The launcher forwards SIGTERM to the Jump Client it runs; its group goes too.
  for (const l of launched.values())
    if (l.child.exitCode === null && l.child.pid) process.kill(-l.child.pid, 'SIGTERM');
});

describe('Jump Clients upgrade themselves in throttled waves (S13)', () => {
  let dir: string;
  let site: TestAppliance;
  let release: { keyFile: string; pubFile: string };
  const pkgs: Record<string, string> = {};
  const installers: Record<string, string> = {};
  let installationsBefore: Record<string, string>;
  const instDir = (name: string) => path.join(dir, 'computers', name);

  const settings = (json: Record<string, unknown>) =>
    site.api.call<{ errors?: { field: string; message: string }[] }>(
      'PATCH',
      '/api/login/settings',
      {
        json,
      },
    );
  const rollout = async () => {
    const res = await site.api.call<RolloutStatus>('GET', '/api/login/jump-clients/upgrades');
    expect(res.status).toBe(200);
    return res.body;
  };
  const connected = async () => {
    const res = await site.api.call<{
      connectedClients: { kind: string; name: string; version: string }[];
    }>('GET', '/api/login/status/information');
    return Object.fromEntries(
      res.body.connectedClients
        .filter((c) => c.kind === 'jump-client')
        .map((c) => [c.name, c.version]),
    );
  };
  const allOn = (names: string[], version: string, timeoutMs = 120_000) =>
    until(
      async () => {
        const c = await connected();
        return names.every((n) => c[n] === version) ? c : false;
      },
      timeoutMs,
      `${names.join(', ')} connected on ${version}`,
      200,
    );
  const installations = async () => {
    const res = await site.api.call<{ installations: { id: string; name: string }[] }>(
      'GET',
      '/api/login/jump-clients/installations',
    );
    return Object.fromEntries(res.body.installations.map((i) => [i.name, i.id]));
  };
  const siteRuns = async (file: string, version: string) => {
    const up = await uploadPackage(site.api, file);
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const res = await site.api.call('POST', `/api/appliance/updates/staged/${up.body.id}/install`, {
      json: {},
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await waitForSoftware(site.api, version, undefined, 120_000);
  };
  const install = (name: string, installer: string, group = 'servers') =>
    cliResult([
      'jump-client',
      'install',
      '--dir',
      instDir(name),
      '--installer',
      installer,
      '--release-key',
      release.pubFile,
      '--name',
      name,
      '--group',
      group,
      '--allow',
      '127.0.0.1:9',
      // The site hostname does not resolve on this machine: its address instead.
      '--site',
      `${site.proc.host}:${site.proc.port}`,
    ]);
  /** Run an installation's launcher, as a service manager would. */
  const launch = (name: string, token?: string) => {
    const child = spawn(jumpClientLauncher(instDir(name)), [], {
      env: { ...process.env, ...(token ? { GATEHOUSE_JUMP_CLIENT_TOKEN: token } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const out: string[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    launched.set(name, { child, output: () => out.join(''), exited });
  };

  beforeAll(async () => {
    dir = tempDir('gh-jc-upgrade-');
    release = makeReleaseKey(dir);
    const b = (version: string) =>
      buildTestPackage({
        kind: 'product',
        version,
        keyFile: release.keyFile,
        out: path.join(dir, `product-${version}.ghpkg`),
      });
    [pkgs.current, pkgs.next, pkgs.after] = await Promise.all([
      b(PRODUCT_VERSION),
      b(NEXT),
      b(AFTER),
    ]);
    site = await startTestAppliance({ name: 'jc-site', releaseKeyFiles: [release.pubFile] });
  }, 180_000);

  it('offers a versioned Jump Client installer of each staged version, naming the site; bad wave settings are refused', async () => {
    for (const [key, version] of [
      ['current', PRODUCT_VERSION],
      ['next', NEXT],
    ] as const) {
      const up = await uploadPackage(site.api, pkgs[key]!);
      expect(up.status, JSON.stringify(up.body)).toBe(201);
      const res = await site.api.call<Buffer>(
        'GET',
        `/api/appliance/updates/staged/${up.body.id}/installers/jump-client`,
      );
      expect(res.status).toBe(200);
      expect(String(res.headers['content-disposition'])).toContain(
        `gatehouse-jump-client-${version}.ghjc`,
      );
      installers[key] = path.join(dir, `jump-client-${version}.ghjc`);
      writeFileSync(installers[key], res.body);
      // It names the site hostname (this appliance's is site.gatehouse.test) at the port used.
      const { site: named } = await readInstaller(installers[key]);
      const { siteHostname } = (
        await site.api.call<{ siteHostname: string }>('GET', '/api/login/settings')
      ).body;
      expect(named).toMatchObject({
        version,
        site: { address: `${siteHostname}:${site.proc.port}` },
      });
      expect(named.site.fingerprints).toContain(site.proc.fingerprint);
      // …and the site certificate authority its installations pin (S20).
      expect(named.site.siteCa).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    }
    const bad = await settings({
      jumpClientUpgradeWaveSize: -1,
      jumpClientUpgradeReturnSeconds: 2,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([
      { field: 'jumpClientUpgradeWaveSize', message: expect.stringContaining('at least 0') },
      { field: 'jumpClientUpgradeReturnSeconds', message: 'must be at least 5' },
    ]);
    // Nothing changed: the defaults stand.
    expect((await rollout()).settings).toEqual({
      waveSize: 10,
      canaryGroup: 'canary',
      canarySize: 1,
      returnSeconds: 300,
    });
    // Held (wave size 0) until the upgraded site is verified and its clients are back.
    const ok = await settings({
      jumpClientUpgradeWaveSize: 0,
      jumpClientUpgradeCanaryGroup: 'canary',
      jumpClientUpgradeReturnSeconds: 120,
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });

  it("installs Jump Clients from the installer; one installed from the staged version's installer stays offline (426) until the site runs it", async () => {
    const results = await Promise.all([
      ...OLD_CLIENTS.map((n) =>
        install(n, installers.current!, n === 'jc-canary' ? 'canary' : 'servers'),
      ),
      install('jc-new', installers.next!),
    ]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    // A refused installer changes nothing.
    const refused = await cliResult([
      'jump-client',
      'install',
      '--dir',
      instDir('not-one'),
      '--installer',
      pkgs.current!,
      '--release-key',
      release.pubFile,
      '--name',
      'not-one',
      '--allow',
      '127.0.0.1:9',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('JUMP_CLIENT_INSTALLER_INVALID');
    expect(existsSync(path.join(instDir('not-one'), 'current'))).toBe(false);
    // Each installation enrols once with a one-use token: an upgrade that lost its identity
    // could not enrol again.
    for (const n of [...OLD_CLIENTS, 'jc-new'])
      launch(n, await enrolmentToken(site.api, { uses: 1, name: n }));
    await allOn(OLD_CLIENTS, PRODUCT_VERSION, 60_000);
    installationsBefore = await installations();
    await until(
      () =>
        launched
          .get('jc-new')!
          .output()
          .includes(`This client runs ${NEXT}, newer than the site's`),
      30_000,
      'the newer Jump Client to be refused',
    );
    expect((await connected())['jc-new']).toBeUndefined();
    expect(await rollout()).toMatchObject({ state: 'off', waves: [] });
  });

  it('after the site is upgraded they upgrade in waves: the canary alone, then at most 2 at once, each keeping its identity', async () => {
    await siteRuns(pkgs.next!, NEXT);
    // Every client back on the upgraded site, none upgraded while upgrades are held.
    await allOn(OLD_CLIENTS, PRODUCT_VERSION);
    expect(await rollout()).toMatchObject({
      state: 'off',
      waves: [],
      waiting: OLD_CLIENTS,
    });
    expect((await settings({ jumpClientUpgradeWaveSize: 2 })).status).toBe(200);
    const all = [...OLD_CLIENTS, 'jc-new'];
    await allOn(all, NEXT);
    // The last wave is closed at the next look (every second).
    const s = await until(
      async () => {
        const r = await rollout();
        return r.state === 'up-to-date' ? r : undefined;
      },
      10_000,
      'the rollout to end',
    );
    expect(s.waves.map((w) => [w.canary, w.clients, w.outcome])).toEqual([
      [true, ['jc-canary'], 'done'],
      [false, ['jc-a', 'jc-b'], 'done'],
      [false, ['jc-c'], 'done'],
    ]);
    // A wave starts only once the one before came back.
    for (let i = 1; i < s.waves.length; i++)
      expect(Date.parse(s.waves[i]!.startedAt)).toBeGreaterThanOrEqual(
        Date.parse(s.waves[i - 1]!.endedAt!),
      );
    const info = await site.api.call<{ jumpClientUpgrades: RolloutStatus }>(
      'GET',
      '/api/login/status/information',
    );
    expect(info.body.jumpClientUpgrades).toMatchObject({ target: NEXT, state: 'up-to-date' });
    // Same installations, and jc-new enrolled once it could.
    const after = await installations();
    for (const n of OLD_CLIENTS) expect(after[n]).toBe(installationsBefore[n]);
    expect(after['jc-new']).toBeDefined();
    // Replaced in place: the new version runs, the old tree is gone, both installers are kept.
    for (const n of OLD_CLIENTS) {
      const d = instDir(n);
      expect(readlinkSync(path.join(d, 'current'))).toBe(path.join('versions', NEXT));
      await until(
        () => readdirSync(path.join(d, 'versions')).join() === NEXT,
        30_000,
        `${n} to remove the replaced version`,
      );
      expect(readdirSync(path.join(d, 'installers')).sort()).toEqual(
        [`${NEXT}.ghjc`, `${PRODUCT_VERSION}.ghjc`].sort(),
      );
      expect(launched.get(n)!.output()).toContain(`installed ${NEXT}`);
    }
  });

  it('halts when the canary does not come back, and an administrator resumes without it', async () => {
    // The canary's next version cannot start: its identity file now names another client.
    const identity = path.join(instDir('jc-canary'), 'identity.json');
    const kept = readFileSync(identity, 'utf8');
    writeFileSync(identity, kept.replace('"jc-canary"', '"someone-else"'));
    expect((await settings({ jumpClientUpgradeWaveSize: 0 })).status).toBe(200);
    await siteRuns(pkgs.after!, AFTER);
    const others = ['jc-a', 'jc-b', 'jc-c', 'jc-new'];
    await allOn([...others, 'jc-canary'], NEXT);
    expect((await settings({ jumpClientUpgradeWaveSize: 2 })).status).toBe(200);
    // Once the canary's wave started its deadline is made short: a wave's deadline follows
    // the setting.
    await until(async () => (await rollout()).waves.length === 1, 30_000, 'the canary wave');
    expect((await settings({ jumpClientUpgradeReturnSeconds: 5 })).status).toBe(200);
    const halted = await until(
      async () => {
        const s = await rollout();
        return s.state === 'halted' ? s : undefined;
      },
      120_000,
      'the upgrade to halt',
      200,
    );
    expect(halted.halt).toMatchObject({ wave: 1, missing: ['jc-canary'] });
    expect(halted.halt!.reason).toContain(`did not come back on ${AFTER} within 5 s`);
    expect(halted.waves).toHaveLength(1);
    expect(await launched.get('jc-canary')!.exited).toBe(2);
    expect(launched.get('jc-canary')!.output()).toContain('JUMP_CLIENT_IDENTITY_OTHER_NAME');
    // Nobody else was asked: they stay on the version before, connected.
    await allOn(others, NEXT, 60_000);
    expect((await rollout()).waves).toHaveLength(1);

    // A deadline long enough for two at once on this machine, then resume.
    expect((await settings({ jumpClientUpgradeReturnSeconds: 120 })).status).toBe(200);
    const resumed = await site.api.call<{ resumed: boolean; skipped: string[] }>(
      'POST',
      '/api/login/jump-clients/upgrades/resume',
    );
    expect(resumed.body).toMatchObject({ resumed: true, skipped: ['jc-canary'] });
    await allOn(others, AFTER);
    const s = await until(
      async () => {
        const r = await rollout();
        return r.waves.every((w) => w.outcome !== 'running') ? r : undefined;
      },
      10_000,
      'the last wave to close',
    );
    expect(s.waves.map((w) => [w.clients, w.outcome])).toEqual([
      [['jc-canary'], 'halted'],
      [['jc-a', 'jc-b'], 'done'],
      [['jc-c', 'jc-new'], 'done'],
    ]);
    // The canary, repaired, comes back on the version it installed before it failed.
    writeFileSync(identity, kept);
    launch('jc-canary');
    await allOn(['jc-canary'], AFTER, 60_000);
    for (const action of ['jump-client.upgrade.halted', 'jump-client.upgrade.resume']) {
      const events = await site.api.call<{ items: { target: string }[] }>(
        'GET',
        `/api/login/logs?action=${action}`,
      );
      expect(
        events.body.items.map((e) => e.target),
        action,
      ).toEqual([AFTER]);
    }
  });

  it('removes an installation only with the installer of the version it runs', async () => {
    const d = instDir('jc-c');
    launched.get('jc-c')!.child.kill('SIGTERM');
    expect(await launched.get('jc-c')!.exited).toBe(0);
    const wrong = await cliResult([
      'jump-client',
      'uninstall',
      '--dir',
      d,
      '--installer',
      installers.current!,
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('JUMP_CLIENT_INSTALLER_OTHER_VERSION');
    expect(readlinkSync(path.join(d, 'current'))).toBe(path.join('versions', AFTER));
    const ok = await cliResult([
      'jump-client',
      'uninstall',
      '--dir',
      d,
      '--installer',
      path.join(d, 'installers', `${AFTER}.ghjc`),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readdirSync(d)).toEqual([]);
  });
});
