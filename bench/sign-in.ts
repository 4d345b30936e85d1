/**
 * `npm run bench -- sign-in`: the time of a refused sign-in for an unknown username beside the
 * same for an existing one (wrong password), on one real appliance (issue 18, finding 3: the
 * answer must not tell which usernames exist, by its content or its time). The two are asked
 * alternately, each from its own loopback address, so that a load that drifts during the run
 * falls on both alike; a bare scrypt verification in this process is printed as the cost floor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ApplianceClient } from '../src/clients/admin-client.js';
import { initApplianceProcess, startApplianceProcess } from '../src/lab/processes.js';
import { DUMMY_PASSWORD_HASH, verifyPassword } from '../src/shared/crypto.js';
import { figureTable, machine, median, type Figure } from './support.js';

const ATTEMPTS = 40;
const PASSWORD = 'Bench-Sign-In-Pass-1';

async function refusal(c: ApplianceClient, area: 'appliance' | 'login', username: string) {
  const started = performance.now();
  const res = await c.call('POST', `/api/${area}/session`, {
    json: { username, password: 'not-the-password' },
    auth: 'none',
  });
  if (res.status !== 401 && res.status !== 429)
    throw new Error(`sign-in of ${username} answered ${res.status}, not a refusal`);
  return performance.now() - started;
}

export async function runSignInBenchmark(): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'gh-bench-signin-'));
  const dataDir = path.join(root, 'data');
  await initApplianceProcess({
    dataDir,
    name: 'bench-sign-in',
    host: '127.0.0.1',
    hostnames: ['site.gatehouse.test'],
    adminPassword: PASSWORD,
    loginPassword: PASSWORD,
  });
  const proc = await startApplianceProcess(dataDir, { host: '127.0.0.1' });
  const clients: ApplianceClient[] = [];
  try {
    const figures: Figure[] = [];
    const floor: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      await verifyPassword('not-the-password', DUMMY_PASSWORD_HASH);
      floor.push(performance.now() - started);
    }
    for (const area of ['appliance', 'login'] as const) {
      const known: number[] = [];
      const unknown: number[] = [];
      // A fresh address per attempt: the per-address backoff is not what is measured.
      for (let i = 0; i < ATTEMPTS; i++) {
        const base = area === 'appliance' ? 0 : ATTEMPTS;
        const a = proc.client({ localAddress: `127.0.1.${base + i + 1}` });
        const b = proc.client({ localAddress: `127.0.2.${base + i + 1}` });
        clients.push(a, b);
        // Alternate which goes first, so neither is always the warmer one.
        if (i % 2 === 0) {
          known.push(await refusal(a, area, 'admin'));
          unknown.push(await refusal(b, area, `nobody-${i}`));
        } else {
          unknown.push(await refusal(b, area, `nobody-${i}`));
          known.push(await refusal(a, area, 'admin'));
        }
      }
      figures.push({
        figure: `/${area} refused sign-in, unknown username (median of ${ATTEMPTS})`,
        unit: 'ms',
        gatehouse: median(unknown),
        anchor: median(known),
        goal: 'anchor: the same for an existing username',
      });
    }
    figures.push({
      figure: 'scrypt verification alone, in-process (cost floor)',
      unit: 'ms',
      gatehouse: median(floor),
      anchor: median(floor),
    });
    const m = machine();
    console.log(`sign-in timing (${m.cpus} × ${m.cpuModel}, load ${os.loadavg()[0]!.toFixed(1)})`);
    console.log(figureTable(figures));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await proc.stop().catch(() => proc.kill());
    rmSync(root, { recursive: true, force: true });
  }
}
