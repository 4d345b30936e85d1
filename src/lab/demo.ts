import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateEd25519, keyId, loadPrivateKey, randomToken } from '../shared/crypto.js';
import { compareVersions, CODE_ROOT, PRODUCT_VERSION } from '../shared/version.js';
import { until } from '../shared/until.js';
import type { ApplianceClient } from '../clients/admin-client.js';
import { initApplianceProcess, startApplianceProcess } from './processes.js';

export interface DemoOptions {
  /** Stop after the walkthrough instead of serving until Ctrl-C. */
  exit: boolean;
  host: string;
  port?: number;
  log: (line: string) => void;
}

/**
 * The demo on embedded defaults: one appliance on loopback, exercised through its API the way
 * an administrator would, then left running so the web console can be explored.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-demo-'));
  const dataDir = path.join(root, 'appliance-a');
  const adminPassword = `Demo-${randomToken(9)}-1a`;
  const loginPassword = `Site-${randomToken(9)}-2b`;
  const step = (s: string) => opts.log(`▸ ${s}`);
  // A release key of the demo's own: the appliance trusts only packages it signed.
  const release = generateEd25519();
  const releasePub = path.join(root, 'release.pub');
  writeFileSync(releasePub, release.publicKeyPem);
  step(`initialising appliance-a in ${dataDir}`);
  await initApplianceProcess({
    releaseKeyFiles: [releasePub],
    dataDir,
    name: 'appliance-a',
    host: opts.host,
    hostnames: ['support.gatehouse.test'],
    adminPassword,
    loginPassword,
  });
  step('starting it (real process, HTTPS, embedded SQLite)');
  const t0 = Date.now();
  const proc = await startApplianceProcess(dataDir, { host: opts.host, port: opts.port });
  step(`healthy after ${Date.now() - t0} ms at ${proc.url} (certificate ${proc.fingerprint})`);
  const api = proc.client();
  try {
    await api.signIn('appliance', 'admin', adminPassword);
    await api.signIn('login', 'admin', loginPassword);
    const user = await api.call('POST', '/api/login/users', {
      json: {
        username: 'rep.demo',
        displayName: 'Demo Representative',
        password: 'Demo-Rep-Pass-42',
      },
    });
    step(`/login > Users: created rep.demo (HTTP ${user.status})`);
    const weak = await api.call<{ detail: string }>('POST', '/api/login/users', {
      json: { username: 'weak', displayName: 'Weak', password: 'abc' },
    });
    step(`/login > Users: a weak password is refused (HTTP ${weak.status}: ${weak.body.detail})`);
    const file = await api.call<{ sha256: string }>('PUT', '/api/login/files/welcome.txt', {
      raw: Buffer.from('Welcome to Gatehouse.\n'),
    });
    step(`/login > File Store: uploaded welcome.txt (sha256 ${file.body.sha256.slice(0, 16)}…)`);
    const backup = await api.call<Buffer>('GET', '/api/appliance/backup');
    step(`/appliance > Backup: downloaded a signed backup of ${backup.body.length} bytes`);
    await api.call('DELETE', '/api/login/users/rep.demo');
    step('/login > Users: deleted rep.demo');
    const restored = await api.call<{ counts: Record<string, number> }>(
      'POST',
      '/api/appliance/backup/restore',
      { raw: backup.body },
    );
    await api.signIn('login', 'admin', loginPassword);
    const back = await api.call('GET', '/api/login/users/rep.demo');
    step(
      `/appliance > Backup: restored (${JSON.stringify(restored.body.counts)}); rep.demo is back: ${back.status === 200}`,
    );
    await demoUpdate(api, root, release.privateKeyPem, release.publicKeyPem, step);
    const logs = await api.call<{ total: number }>('GET', '/api/login/logs?pageSize=1');
    step(`/login > Logs: ${logs.body.total} events recorded`);
  } finally {
    await api.close();
  }
  opts.log('');
  opts.log(`Web console:  ${proc.url}/login     user admin  password ${loginPassword}`);
  opts.log(`              ${proc.url}/appliance user admin  password ${adminPassword}`);
  opts.log(`(self-signed certificate ${proc.fingerprint})`);
  const finish = async () => {
    await proc.stop();
    rmSync(root, { recursive: true, force: true });
    opts.log('demo stopped; its data directory was removed');
  };
  if (opts.exit) return finish();
  opts.log('Press Ctrl-C to stop the demo.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await finish();
}

/**
 * /appliance > Updates: a signed product package of the next patch version, built from this
 * very code, uploaded (Manual Installation) and installed: the appliance restarts on the new
 * slot, passes its health check and reports the new version because the new code says so.
 */
async function demoUpdate(
  api: ApplianceClient,
  root: string,
  privateKeyPem: string,
  publicKeyPem: string,
  step: (s: string) => void,
): Promise<void> {
  const { buildPackage } = await import('../updates/package.js');
  const [major, minor, patch] = PRODUCT_VERSION.split('.').map(Number) as [number, number, number];
  const next = `${major}.${minor}.${patch + 1}`;
  const file = path.join(root, `product-${next}.ghpkg`);
  await buildPackage({
    kind: 'product',
    version: next,
    from: CODE_ROOT,
    out: file,
    signers: [{ key: loadPrivateKey(privateKeyPem), keyId: keyId(publicKeyPem) }],
    releaseNotes: 'Demo update',
    tmpDir: path.join(root, 'package-build'),
  });
  const staged = await api.call<{ id: string; version: string }>(
    'POST',
    '/api/appliance/updates/upload',
    { raw: readFileSync(file), headers: { 'content-type': 'application/octet-stream' } },
  );
  step(
    `/appliance > Updates: uploaded signed product package ${staged.body.version} (HTTP ${staged.status})`,
  );
  const t0 = Date.now();
  await api.call('POST', `/api/appliance/updates/staged/${staged.body.id}/install`, { json: {} });
  const health = await until(
    async () => {
      const h = await api.call<{ productVersion: string; update: string | null }>('GET', '/health');
      return compareVersions(h.body.productVersion, next) === 0 && h.body.update === null
        ? h.body
        : undefined;
    },
    60_000,
    `the appliance to run ${next}`,
    25,
  );
  step(
    `/appliance > Updates: installed into the other slot, restarted and health-checked in ${Date.now() - t0} ms; it now runs ${health.productVersion}`,
  );
}
