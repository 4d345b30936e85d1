import https from 'node:https';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEd25519 } from '../src/shared/crypto.js';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import { startTestAppliance, tempDir, until } from './support/appliance.js';
import {
  buildTestPackage,
  makeReleaseKey,
  uploadPackage,
  waitForSoftware,
} from './support/updates.js';

const [major, minor, patch] = PRODUCT_VERSION.split('.').map(Number);
const NEXT = `${major}.${minor}.${patch! + 1}`;

/**
 * A change in flight (a console's sign-in, its body held back once the appliance has counted
 * it): an install waits for it before it goes on (up to 30 s), its gate closed meanwhile.
 */
function heldChange(host: string, port: number) {
  const body = JSON.stringify({ username: 'nobody', password: 'wrong', version: '1.0.0' });
  const req = https.request({
    host,
    port,
    method: 'POST',
    path: '/api/client/console/sign-in',
    rejectUnauthorized: false,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      // The appliance answers 100 once it has the request and counts it in flight.
      expect: '100-continue',
    },
  });
  const counted = new Promise<void>((resolve, reject) => {
    req.on('error', reject);
    req.on('continue', () => resolve());
  });
  const answered = new Promise<number>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => res.resume().on('end', () => resolve(res.statusCode!)));
  });
  req.flushHeaders();
  return { counted, answered, release: () => req.end(body), abort: () => req.destroy() };
}

describe('the install gate (an update being installed holds changes)', () => {
  it("tells client endpoints (/api/client/) to retry after 2 s and administrators' endpoints after 30 s", async () => {
    const dir = tempDir('gh-install-gate-');
    const release = makeReleaseKey(dir);
    const pkg = await buildTestPackage({
      kind: 'product',
      version: NEXT,
      keyFile: release.keyFile,
      out: path.join(dir, `product-${NEXT}.ghpkg`),
    });
    const t = await startTestAppliance({
      name: 'install-gate',
      releaseKeyFiles: [release.pubFile],
    });
    const up = await uploadPackage(t.api, pkg);
    expect(up.status, JSON.stringify(up.body)).toBe(201);

    const held = heldChange(t.proc.host, t.proc.port);
    try {
      await held.counted;
      const install = `/api/appliance/updates/staged/${up.body.id}/install`;
      const started = await t.api.call('POST', install, { json: {} });
      expect(started.status).toBe(202);
      // The install has closed its gate and waits for the change in flight.
      await until(
        async () =>
          (await t.anon.call<{ update: string | null }>('GET', '/health')).body.update ===
          'installing',
        30_000,
        'the install to hold changes',
        50,
      );

      const refusal = async (method: string, url: string, json: unknown, client: boolean) => {
        // A client has no administrator's session: the anonymous client sends none.
        const res = await (client ? t.anon : t.api).call<{ code: string }>(method, url, { json });
        return {
          url,
          status: res.status,
          code: res.body.code,
          retryAfter: res.headers['retry-after'],
        };
      };
      const [enrol, signIn, settings, rotation] = await Promise.all([
        refusal(
          'POST',
          '/api/client/jump-clients/enrol',
          { name: 'gate-jc', token: 'gjt1_none', publicKey: generateEd25519().publicKeyPem },
          true,
        ),
        refusal(
          'POST',
          '/api/client/console/sign-in',
          { username: 'admin', password: 'not-checked', version: PRODUCT_VERSION },
          true,
        ),
        refusal('PATCH', '/api/login/settings', { loginBanner: 'changed mid-install' }, false),
        refusal('PUT', '/api/appliance/logs/rotation', { maxFileMiB: 20, keepFiles: 5 }, false),
      ]);
      const inProgress = { status: 503, code: 'UPDATE_IN_PROGRESS' };
      // Clients follow the install that moved them and come back at its pace, 2 s.
      for (const r of [enrol, signIn])
        expect(r).toEqual({ url: r.url, ...inProgress, retryAfter: '2' });
      // An administrator's change waits for the restart: 30 s.
      for (const r of [settings, rotation])
        expect(r).toEqual({ url: r.url, ...inProgress, retryAfter: '30' });
      // The gate was still closed when the last answer came.
      expect((await t.anon.call<{ update: string | null }>('GET', '/health')).body.update).toBe(
        'installing',
      );

      // The change in flight ends (refused as a wrong sign-in); the install goes on.
      held.release();
      expect(await held.answered).toBe(401);
    } finally {
      held.abort();
    }
    await waitForSoftware(t.api, NEXT, undefined, 120_000);
  }, 240_000);
});
