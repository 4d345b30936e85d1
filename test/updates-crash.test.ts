import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, integrityCheck } from '../src/store/db.js';
import { startTestAppliance, tempDir, until, type TestAppliance } from './support/appliance.js';
import {
  brokenProductTree,
  buildTestPackage,
  makeReleaseKey,
  uploadPackage,
  type UpdatesStatus,
} from './support/updates.js';

/**
 * Power cuts during installs: the whole appliance (supervisor and worker) is SIGKILLed at
 * points spread over the install (unpacking, snapshot, switch, restart, trial, commit, and the
 * rollback of a broken package). Each time it must come back on exactly the old or the new
 * software, with every acknowledged write present and the database intact.
 * GATEHOUSE_SOAK_KILLS raises the number of kills (scripts/soak-update-kill.sh).
 */
const KILLS = Number(process.env.GATEHOUSE_SOAK_KILLS) || 20;
const BROKEN_EVERY = 5;

interface Health {
  productVersion: string;
  baseVersion: string;
  ready: boolean;
  update: string | null;
}

describe(`SIGKILL at ${KILLS} points of software installs`, () => {
  let t: TestAppliance;
  let dir: string;
  let release: { keyFile: string; pubFile: string };
  let brokenTree: string;
  const acknowledged = { users: [] as string[], files: [] as { name: string; body: string }[] };

  beforeAll(async () => {
    dir = tempDir('gh-upd-crash-');
    release = makeReleaseKey(dir);
    brokenTree = brokenProductTree(path.join(dir, 'broken-tree'));
    t = await startTestAppliance({ name: 'crash-a', releaseKeyFiles: [release.pubFile] });
  }, 60_000);

  afterAll(() => undefined);

  const health = async () => (await t.api.call<Health>('GET', '/health')).body;
  const packageFor = (i: number, broken: boolean) =>
    buildTestPackage({
      kind: 'product',
      version: `1.${i + 1}.0`,
      keyFile: release.keyFile,
      out: path.join(dir, `product-${i}.ghpkg`),
      ...(broken ? { from: brokenTree } : {}),
    });

  /** Writers that keep changing the site; only acknowledged writes are remembered. */
  function startWriters(round: number) {
    let stop = false;
    const loop = async () => {
      for (let n = 0; !stop; n++) {
        const username = `r${round}-u${n}`;
        const user = await t.api
          .call('POST', '/api/login/users', {
            json: { username, displayName: username, password: 'Written-Before-Crash-7' },
          })
          .catch(() => undefined);
        if (user?.status === 201) acknowledged.users.push(username);
        const name = `r${round}-f${n}.txt`;
        const body = `file ${name} written in round ${round}`;
        const file = await t.api
          .call('PUT', `/api/login/files/${name}`, {
            raw: Buffer.from(body),
            headers: { 'content-type': 'application/octet-stream' },
          })
          .catch(() => undefined);
        if (file?.status === 201 || file?.status === 200) acknowledged.files.push({ name, body });
        if (!user && !file) await new Promise((r) => setTimeout(r, 20)); // the appliance is down
      }
    };
    const done = loop();
    return async () => {
      stop = true;
      await done;
    };
  }

  async function verifyEverything() {
    const users = await t.api.call<{ users: { username: string }[] }>('GET', '/api/login/users');
    const have = new Set(users.body.users.map((u) => u.username));
    expect(acknowledged.users.filter((u) => !have.has(u))).toEqual([]);
    for (const f of acknowledged.files.slice(-10)) {
      const res = await t.api.call<Buffer>('GET', `/api/login/files/${f.name}`);
      expect(res.status, f.name).toBe(200);
      expect(Buffer.from(res.body).toString()).toBe(f.body);
    }
  }

  it(
    'comes back on the old or the new version every time, with every record and file intact',
    async () => {
      // Every package is built first, four at a time (a second each, one after another they
      // added up to half a minute), and before the calibration so that no build slows what it times.
      const files: string[] = [];
      for (let i = 0; i <= KILLS; i += 4)
        files.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(4, KILLS + 1 - i) }, (_, j) =>
              packageFor(i + j, i + j > 0 && (i + j) % BROKEN_EVERY === 0),
            ),
          )),
        );
      // Calibrate: how long one install takes here, from request to committed.
      const calibration = files[0]!;
      const cal = await uploadPackage(t.api, calibration);
      const t0 = Date.now();
      await t.api.call('POST', `/api/appliance/updates/staged/${cal.body.id}/install`, {
        json: {},
      });
      await until(async () => {
        const h = await health().catch(() => undefined);
        return h?.productVersion === '1.1.0' && h.update === null;
      }, 60_000);
      const installMs = Date.now() - t0;

      const outcomes: {
        kill: number;
        atMs: number;
        from: string;
        to: string;
        ended: string;
        broken: boolean;
      }[] = [];
      let current = '1.1.0';
      for (let k = 1; k <= KILLS; k++) {
        const broken = k % BROKEN_EVERY === 0;
        const file = files[k]!;
        const target = `1.${k + 1}.0`;
        const up = await uploadPackage(t.api, file);
        expect(up.status).toBe(201);
        const stopWriters = startWriters(k);
        // Spread the kills over the whole install and its trial (and a little after).
        const atMs = Math.round(
          ((k - 1) % BROKEN_EVERY === 0 ? 0 : ((k * 7919) % 100) / 100) * installMs * 1.2,
        );
        const res = await t.api.call(
          'POST',
          `/api/appliance/updates/staged/${up.body.id}/install`,
          { json: {} },
        );
        expect([202, 503]).toContain(res.status);
        await new Promise((r) => setTimeout(r, atMs)); // the moment of the power cut, not a wait for a condition
        await t.crashAndRestart();
        // Back up: no trial may be left pending; the version is the old or the new one.
        const h = await until(
          async () => {
            const x = await health().catch(() => undefined);
            return x && x.ready && x.update === null ? x : undefined;
          },
          90_000,
          'the appliance to settle after the crash',
        );
        await stopWriters();
        const allowed = broken ? [current] : [current, target];
        expect(
          allowed,
          `kill ${k} at ${atMs} ms (${broken ? 'broken package' : 'good package'})`,
        ).toContain(h.productVersion);
        outcomes.push({
          kill: k,
          atMs,
          from: current,
          to: target,
          ended: h.productVersion,
          broken,
        });
        current = h.productVersion;
        await verifyEverything();
        const s = (await t.api.call<UpdatesStatus>('GET', '/api/appliance/updates')).body;
        expect(s.installed.product).toBe(current);
      }
      // Both outcomes happened: kills before the switch kept the old version, later ones the new.
      const good = outcomes.filter((o) => !o.broken);
      expect(good.some((o) => o.ended === o.from)).toBe(true);
      expect(good.some((o) => o.ended === o.to)).toBe(true);
      process.stdout.write(
        `install takes ${installMs} ms; outcomes: ${outcomes.map((o) => `${o.atMs}ms→${o.ended === o.to ? 'new' : 'old'}${o.broken ? '(broken)' : ''}`).join(' ')}\n`,
      );

      // Finally the database file itself is intact.
      await t.proc.stop();
      const db = openDatabase(path.join(t.dataDir, 'store', 'gatehouse.db'));
      try {
        expect(integrityCheck(db)).toEqual([]);
      } finally {
        db.close();
      }
      expect(readFileSync(path.join(t.dataDir, 'system', 'boot.json'), 'utf8')).not.toContain(
        'trial',
      );
    },
    KILLS * 20_000 + 120_000,
  );
});
