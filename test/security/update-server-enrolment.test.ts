import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplianceClient } from '../../src/clients/admin-client.js';
import { startUpdateServerProcess, type UpdateServerProcess } from '../../src/lab/processes.js';
import { until } from '../../src/shared/until.js';
import { tempDir } from '../support/appliance.js';
import { cliResult } from '../support/cli.js';
import {
  buildTestPackage,
  makeReleaseKey,
  selfMadeAppliance,
  type SelfMadeAppliance,
} from '../support/updates.js';

const OPERATOR_PASSWORD = 'Enrolment-Keeper-18';
const gatehouse = cliResult;

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
const form = (fields: Record<string, string>, cookie?: string) => ({
  raw: Buffer.from(new URLSearchParams(fields).toString()),
  headers: { ...FORM, ...(cookie ? { cookie } : {}) },
});

/**
 * Issue 18, finding 4: before this change anyone who reached the update server claimed an
 * appliance's name with a self-made download key (first key won) and listed and downloaded
 * every package. Now a key is enrolled only with the operator's proof, and these fail on the
 * old code: the stranger's check and download are refused, a name enrolled cannot be taken
 * even with a valid token, a revoked key stays out, and a database from before keeps its
 * appliances but flags them for review.
 */
describe('update server enrolment (finding 4)', () => {
  let root: string;
  let dataDir: string;
  let server: UpdateServerProcess;
  let http: ApplianceClient;
  let packageId: string;

  const cli = (...args: string[]) => gatehouse(['update-server', ...args, '--data-dir', dataDir]);
  const token = async (...args: string[]) => {
    const res = await cli('token', 'create', '--json', ...args);
    expect(res.stderr).toBe('');
    return (JSON.parse(res.stdout) as { token: string }).token;
  };
  const check = (a: SelfMadeAppliance, registrationToken?: string) =>
    http.call<{ code?: string; detail?: string; available?: unknown[] }>('POST', '/api/v1/check', {
      headers: { authorization: `Gatehouse-Appliance ${a.token()}` },
      json: registrationToken ? { registrationToken } : {},
    });
  const download = (a: SelfMadeAppliance) =>
    http.call<{ code?: string }>('GET', `/api/v1/packages/${packageId}`, {
      headers: { authorization: `Gatehouse-Appliance ${a.token()}` },
    });
  const listed = async () =>
    JSON.parse((await cli('list', '--json')).stdout) as {
      appliances: { name: string; keyId: string; enrolledVia: string }[];
      pending: { name: string; keyId: string; address: string }[];
    };

  beforeAll(async () => {
    root = tempDir('gh-enrol-');
    dataDir = path.join(root, 'server');
    const release = makeReleaseKey(root);
    writeFileSync(path.join(root, 'operator.txt'), `${OPERATOR_PASSWORD}\n`);
    const init = await gatehouse([
      ...['update-server', 'init', '--data-dir', dataDir, '--address', '127.0.0.1'],
      ...[
        '--release-key',
        release.pubFile,
        '--admin-password-file',
        path.join(root, 'operator.txt'),
      ],
    ]);
    expect(init.stderr).toBe('');
    const file = await buildTestPackage({
      kind: 'product',
      version: '1.1.0',
      keyFile: release.keyFile,
      out: path.join(root, 'product.ghpkg'),
    });
    const published = await cli('publish', file);
    packageId = /sha256 ([0-9a-f]{64})/.exec(published.stdout)![1]!;
    server = await startUpdateServerProcess(dataDir);
    http = server.client();
  }, 120_000);

  afterAll(async () => {
    await http?.close();
    await server?.stop().catch(() => server.kill());
  });

  it('a stranger with a self-made key is refused listing and downloading, and waits for the operator', async () => {
    const stranger = selfMadeAppliance('victim');
    const refused = await check(stranger);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('APPLIANCE_NOT_ENROLLED');
    expect(refused.body.detail).toContain(`update-server approve --key ${stranger.keyId}`);
    expect(refused.body.detail).toContain('token create --appliance victim');
    expect(refused.body.available).toBeUndefined();
    const dl = await download(stranger);
    expect(dl.status).toBe(403);
    expect(dl.body.code).toBe('APPLIANCE_NOT_ENROLLED');
    // The download-key page lists nothing either.
    const page = await http.call<string>('POST', '/', form({ downloadKey: stranger.token() }));
    expect(page.status).toBe(403);
    expect(page.body).toContain('data-code="APPLIANCE_NOT_ENROLLED"');
    expect(page.body).not.toContain('id="packages"');
    // It did not bind the name: it waits, with the address it came from.
    const state = await listed();
    expect(state.appliances.map((a) => a.name)).not.toContain('victim');
    expect(state.pending).toContainEqual(
      expect.objectContaining({ name: 'victim', keyId: stranger.keyId, address: '127.0.0.1' }),
    );
  });

  it('a registration token enrols the real appliance once; the name cannot then be taken, even with a valid token', async () => {
    const real = selfMadeAppliance('victim');
    const stranger = selfMadeAppliance('victim');
    const forVictim = await token('--appliance', 'victim');
    // A token for another name, a made-up one, and then a spent one are refused.
    const other = await check(real, await token('--appliance', 'someone-else'));
    expect(other.body.code).toBe('REGISTRATION_TOKEN_INVALID');
    expect(other.body.detail).toMatch(/it is for appliance "someone-else", not "victim"/);
    const madeUp = await check(real, `ghrt1.${'A'.repeat(43)}`);
    expect(madeUp.body.code).toBe('REGISTRATION_TOKEN_INVALID');
    const ok = await check(real, forVictim);
    expect(ok.status).toBe(200);
    expect(ok.body.available).toHaveLength(1);
    const spent = await check(selfMadeAppliance('another'), forVictim);
    expect(spent.body.code).toBe('REGISTRATION_TOKEN_INVALID');
    expect(spent.body.detail).toMatch(/already used/);
    expect((await download(real)).status).toBe(200);

    // The stranger, even holding a valid token for any name, cannot take "victim".
    const anyName = await token();
    const stolen = await check(stranger, anyName);
    expect(stolen.status).toBe(403);
    expect(stolen.body.code).toBe('DOWNLOAD_KEY_OTHER_APPLIANCE');
    expect((await download(stranger)).body.code).toBe('DOWNLOAD_KEY_OTHER_APPLIANCE');
    await until(
      () =>
        server.output.some(
          (l) =>
            l.includes('claim of an enrolled appliance name refused') &&
            l.includes(stranger.keyId) &&
            l.includes('127.0.0.1'),
        ),
      10_000,
      'the refused claim logged with its address',
    );
    // The real appliance is unaffected, and the unused token still works for a new appliance.
    expect((await check(real)).status).toBe(200);
    expect((await check(selfMadeAppliance('fresh'), anyName)).status).toBe(200);
  });

  it('the operator approves a waiting key by its fingerprint, re-keys only when told, and revokes', async () => {
    const waiting = selfMadeAppliance('approved-one');
    expect((await check(waiting)).body.code).toBe('APPLIANCE_NOT_ENROLLED');
    const wrong = await cli('approve', '--key', 'f'.repeat(64));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/PENDING_KEY_NOT_FOUND.*Waiting: .*approved-one/);
    const approved = await cli('approve', '--key', waiting.keyId.slice(0, 16));
    expect(approved.stdout).toMatch(/^Enrolled approved-one/);
    expect((await check(waiting)).status).toBe(200);

    // A re-installed appliance (new key, same name) waits; approving it needs --rekey.
    const reinstalled = selfMadeAppliance('approved-one');
    expect((await check(reinstalled)).body.code).toBe('DOWNLOAD_KEY_OTHER_APPLIANCE');
    const plain = await cli('approve', '--key', reinstalled.keyId);
    expect(plain.stderr).toMatch(/APPLIANCE_NAME_ENROLLED.*--rekey/);
    expect((await check(waiting)).status).toBe(200);
    const rekeyed = await cli('approve', '--key', reinstalled.keyId, '--rekey');
    expect(rekeyed.stdout).toMatch(/^Re-keyed approved-one/);
    expect((await check(reinstalled)).status).toBe(200);
    expect((await check(waiting)).body.code).toBe('DOWNLOAD_KEY_OTHER_APPLIANCE');

    // Revoked: refused from now on, a fresh token does not bring it back.
    const revoked = await cli('revoke', '--appliance', 'approved-one');
    expect(revoked.stdout).toContain(`Revoked identity key ${reinstalled.keyId}`);
    expect((await check(reinstalled)).body.code).toBe('APPLIANCE_KEY_REVOKED');
    expect((await check(reinstalled, await token())).body.code).toBe('APPLIANCE_KEY_REVOKED');
    expect((await download(reinstalled)).body.code).toBe('APPLIANCE_KEY_REVOKED');
  });

  it('the operator pages show waiting keys with their address, approve them and create tokens', async () => {
    const signInPage = await http.call<string>('GET', '/admin/sign-in', {
      headers: { accept: 'text/html' },
    });
    const pre = String(signInPage.headers['set-cookie']).split(';')[0]!;
    const preCsrf = /name="_csrf" value="([^"]+)"/.exec(signInPage.body)![1]!;
    const signedIn = await http.call(
      'POST',
      '/admin/sign-in',
      form({ _csrf: preCsrf, password: OPERATOR_PASSWORD }, pre),
    );
    const cookie = String(signedIn.headers['set-cookie']).split(';')[0]!;
    const waiting = selfMadeAppliance('by-page');
    await check(waiting);
    const admin = await http.call<string>('GET', '/admin', {
      headers: { accept: 'text/html', cookie },
    });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(admin.body)![1]!;
    expect(admin.body).toContain(`data-key="${waiting.keyId}" data-appliance="by-page"`);
    expect(admin.body).toMatch(
      new RegExp(`${waiting.keyId}</code></td>\\s*<td>127\\.0\\.0\\.1</td>`),
    );
    // Without the session's CSRF token nothing is approved.
    const forged = await http.call(
      'POST',
      '/admin/approve',
      form({ _csrf: 'x', key: waiting.keyId }, cookie),
    );
    expect(forged.status).toBe(403);
    expect((await check(waiting)).body.code).toBe('APPLIANCE_NOT_ENROLLED');
    const approve = await http.call(
      'POST',
      '/admin/approve',
      form({ _csrf: csrf, key: waiting.keyId }, cookie),
    );
    expect(approve.status).toBe(303);
    expect((await check(waiting)).status).toBe(200);

    const created = await http.call<string>(
      'POST',
      '/admin/tokens',
      form({ _csrf: csrf, appliance: 'page-token', ttlHours: '2' }, cookie),
    );
    expect(created.status).toBe(200);
    const shown = /id="registration-token" readonly value="(ghrt1\.[^"]+)"/.exec(created.body)![1]!;
    expect((await check(selfMadeAppliance('page-token'), shown)).status).toBe(200);
    const badTtl = await http.call<string>(
      'POST',
      '/admin/tokens',
      form({ _csrf: csrf, ttlHours: '0' }, cookie),
    );
    expect(badTtl.status).toBe(400);
    expect(badTtl.body).toContain('ttl-hours');
  });

  it('appliances bound before proof was required keep working, flagged for review until kept or revoked', async () => {
    // An update server of the previous release: stop it, put its database back to schema 1
    // with two appliances bound by first contact, start the new release on it.
    await server.stop();
    const kept = selfMadeAppliance('old-kept');
    const squatter = selfMadeAppliance('old-squat');
    const db = new Database(path.join(dataDir, 'server.db'));
    try {
      db.exec(`DROP TABLE pending_keys; DROP TABLE registration_tokens; DROP TABLE revoked_keys;
               ALTER TABLE appliances DROP COLUMN enrolled_via; PRAGMA user_version = 1;`);
      const insert = db.prepare(
        "INSERT INTO appliances (name, key_id, public_key, product, base, first_seen_at, last_seen_at) VALUES (?, ?, 'pem', '1.0.0', '1.0.0', 1, 1)",
      );
      insert.run(kept.name, kept.keyId);
      insert.run(squatter.name, squatter.keyId);
    } finally {
      db.close();
    }
    server = await startUpdateServerProcess(dataDir, { port: server.port });
    await http.close();
    http = server.client();
    expect((await check(kept)).status).toBe(200);
    const before = await listed();
    expect(before.appliances.filter((a) => a.name.startsWith('old-'))).toEqual([
      expect.objectContaining({ name: 'old-kept', enrolledVia: 'before-proof' }),
      expect.objectContaining({ name: 'old-squat', enrolledVia: 'before-proof' }),
    ]);
    expect((await cli('list')).stdout).toMatch(/old-kept .*before proof was required\): review/);
    expect((await cli('confirm', '--appliance', 'old-kept')).stdout).toMatch(/^Kept old-kept/);
    expect((await cli('revoke', '--appliance', 'old-squat')).code).toBe(0);
    const after = await listed();
    expect(after.appliances.find((a) => a.name === 'old-kept')?.enrolledVia).toBe('approval');
    expect(after.appliances.find((a) => a.name === 'old-squat')).toBeUndefined();
    expect((await check(squatter)).body.code).toBe('APPLIANCE_KEY_REVOKED');
    // The name is free for the real appliance, with the operator's proof.
    const realOld = selfMadeAppliance('old-squat');
    expect((await check(realOld, await token('--appliance', 'old-squat'))).status).toBe(200);
  });
});
