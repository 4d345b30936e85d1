import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GATEHOUSE_BIN,
  startUpdateServerProcess,
  type UpdateServerProcess,
} from '../src/lab/processes.js';
import { startTestAppliance, tempDir, type TestAppliance } from './support/appliance.js';
import {
  buildTestPackage,
  makeReleaseKey,
  uploadPackage,
  waitForSoftware,
  type UpdatesStatus,
} from './support/updates.js';

const exec = promisify(execFile);
const gatehouse = (args: string[]) => exec(process.execPath, [GATEHOUSE_BIN, ...args]);

interface Available {
  id: string;
  kind: string;
  version: string;
}

/**
 * An appliance and a real update server process: Check for updates, Available Updates,
 * Install This Update (S8), download records (S11) and the air-gapped path with an Appliance
 * Download Key (S10).
 */
describe('updates from an update server', () => {
  let dir: string;
  let server: UpdateServerProcess;
  let t: TestAppliance;
  const check = async () =>
    (await t.api.call<{ available: Available[] }>('POST', '/api/appliance/updates/check')).body
      .available;

  beforeAll(async () => {
    dir = tempDir('gh-upd-online-');
    const release = makeReleaseKey(dir);
    writeFileSync(path.join(dir, 'operator.txt'), 'Catalogue-Keeper-42\n');
    await gatehouse([
      'update-server',
      'init',
      '--data-dir',
      path.join(dir, 'server'),
      '--release-key',
      release.pubFile,
      '--admin-password-file',
      path.join(dir, 'operator.txt'),
      '--address',
      '127.0.0.1',
    ]);
    server = await startUpdateServerProcess(path.join(dir, 'server'));
    for (const v of ['1.1.0', '1.2.0']) {
      const file = await buildTestPackage({
        kind: 'product',
        version: v,
        keyFile: release.keyFile,
        out: path.join(dir, `product-${v}.ghpkg`),
      });
      await gatehouse(['update-server', 'publish', file, '--data-dir', path.join(dir, 'server')]);
    }
    t = await startTestAppliance({ name: 'online-a', releaseKeyFiles: [release.pubFile] });
    return async () => {
      await server.stop();
    };
  }, 90_000);

  it('validates the update server settings and explains an unreachable or impostor server', async () => {
    const bad = await t.api.call<{ errors: { field: string; message: string }[] }>(
      'PUT',
      '/api/appliance/updates/server',
      { json: { url: 'http://plain.example', fingerprint: 'nope' } },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e) => e.field).sort()).toEqual(['fingerprint', 'url']);

    const notSet = await t.api.call<{ code: string }>('POST', '/api/appliance/updates/check');
    expect(notSet.body.code).toBe('UPDATE_SERVER_NOT_SET');

    // Another certificate than the one pinned: refused before anything is sent.
    await t.api.call('PUT', '/api/appliance/updates/server', {
      json: { url: server.url, fingerprint: 'ab'.repeat(32) },
    });
    const impostor = await t.api.call<{ code: string }>('POST', '/api/appliance/updates/check');
    expect(impostor.body.code).toBe('UPDATE_SERVER_CERT_MISMATCH');

    await t.api.call('PUT', '/api/appliance/updates/server', {
      json: { url: 'https://127.0.0.1:1', fingerprint: server.fingerprint },
    });
    const down = await t.api.call<{ code: string }>('POST', '/api/appliance/updates/check');
    expect(down.body.code).toBe('UPDATE_SERVER_UNREACHABLE');

    // The update server's operator vouches for this appliance once (issue 18, finding 4).
    const { stdout } = await gatehouse([
      ...['update-server', 'token', 'create', '--json', '--appliance', 'online-a'],
      ...['--data-dir', path.join(dir, 'server')],
    ]);
    const registrationToken = (JSON.parse(stdout) as { token: string }).token;
    const ok = await t.api.call<Record<string, unknown>>('PUT', '/api/appliance/updates/server', {
      json: { url: server.url, fingerprint: server.fingerprint, registrationToken },
    });
    expect(ok.status).toBe(200);
    // The token is never shown back, only that one waits to be used.
    expect(ok.body.registrationTokenPending).toBe(true);
    expect(JSON.stringify(ok.body)).not.toContain(registrationToken);
  });

  it('lists what applies in order; a downloaded package leaves the list until the operator resets it (S11)', async () => {
    expect((await check()).map((p) => p.version)).toEqual(['1.1.0', '1.2.0']);
    // The first check enrolled it with the token, which is spent and forgotten.
    const status = await t.api.call<{ server: { registrationTokenPending: boolean } }>(
      'GET',
      '/api/appliance/updates',
    );
    expect(status.body.server.registrationTokenPending).toBe(false);
    const first = (await check())[0]!;
    const dl = await t.api.call<{ version: string }>(
      'POST',
      `/api/appliance/updates/available/${first.id}/download`,
    );
    expect(dl.status).toBe(200);
    expect(dl.body.version).toBe('1.1.0');
    expect((await check()).map((p) => p.version)).toEqual(['1.2.0']);
    const staged = (await t.api.call<UpdatesStatus>('GET', '/api/appliance/updates')).body.staged;
    expect(staged.map((s) => s.version)).toEqual(['1.1.0']);

    await gatehouse([
      'update-server',
      'reset',
      '--data-dir',
      path.join(dir, 'server'),
      '--appliance',
      'online-a',
    ]);
    expect((await check()).map((p) => p.version)).toEqual(['1.1.0', '1.2.0']);
  });

  it('Install This Update downloads, installs and restarts on the new version (S8)', async () => {
    const target = (await check()).find((p) => p.version === '1.2.0')!;
    const res = await t.api.call('POST', `/api/appliance/updates/available/${target.id}/install`, {
      json: {},
    });
    expect(res.status).toBe(202);
    await waitForSoftware(t.api, '1.2.0');
    // Nothing newer is left for this appliance.
    expect(await check()).toEqual([]);
  });

  it('air-gapped: a download key pasted on the update server gives the files, uploaded by hand (S10)', async () => {
    const key = await t.api.call<{ key: string; expiresAt: string }>(
      'POST',
      '/api/appliance/updates/download-key',
      { json: { ttlHours: 2 } },
    );
    expect(key.status).toBe(201);
    expect(Date.parse(key.body.expiresAt) - Date.now()).toBeGreaterThan(3600_000);
    const badTtl = await t.api.call<{ errors: { field: string }[] }>(
      'POST',
      '/api/appliance/updates/download-key',
      { json: { ttlHours: 0 } },
    );
    expect(badTtl.body.errors[0]!.field).toBe('ttlHours');

    // "Another machine": a plain HTTPS client of the update server's public page.
    const web = server.client();
    try {
      const page = await web.call<string>('POST', '/', {
        raw: Buffer.from(new URLSearchParams({ downloadKey: key.body.key }).toString()),
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      });
      expect(page.status).toBe(200);
      const html = String(page.body);
      expect(html).toContain('online-a');
      // The appliance runs 1.2.0 now: nothing newer applies.
      expect(html).not.toContain('data-version="1.1.0"');

      const tampered = await web.call<string>('POST', '/', {
        raw: Buffer.from(
          new URLSearchParams({ downloadKey: key.body.key.slice(0, -4) + 'AAAA' }).toString(),
        ),
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      });
      expect(tampered.status).toBeGreaterThanOrEqual(400);
      expect(String(tampered.body)).toMatch(/DOWNLOAD_KEY_(BAD_SIGNATURE|MALFORMED)/);
    } finally {
      await web.close();
    }
  });

  it('automatic updates can be enabled on a standalone appliance; bad times are refused (S5)', async () => {
    const bad = await t.api.call<{ errors: { field: string }[] }>(
      'PUT',
      '/api/appliance/updates/automatic',
      { json: { enabled: true, dailyAt: '25:00' } },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]!.field).toBe('dailyAt');
    const ok = await t.api.call<{ enabled: boolean; dailyAt: string }>(
      'PUT',
      '/api/appliance/updates/automatic',
      { json: { enabled: true, dailyAt: '04:15' } },
    );
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ enabled: true, dailyAt: '04:15' });
  });

  it('a manually uploaded package that was already downloaded is staged once', async () => {
    const s = (await t.api.call<UpdatesStatus>('GET', '/api/appliance/updates')).body;
    expect(s.installed.product).toBe('1.2.0');
    const again = await uploadPackage(t.api, path.join(dir, 'product-1.2.0.ghpkg'));
    expect(again.status).toBe(201);
    const install = await t.api.call<{ code: string }>(
      'POST',
      `/api/appliance/updates/staged/${again.body.id}/install`,
      { json: {} },
    );
    expect(install.body.code).toBe('UPDATE_ALREADY_INSTALLED');
  });
});
