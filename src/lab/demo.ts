import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomToken } from '../shared/crypto.js';
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
  step(`initialising appliance-a in ${dataDir}`);
  await initApplianceProcess({
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
