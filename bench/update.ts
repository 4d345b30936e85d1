/**
 * `npm run bench -- update`: time from *Install* to healthy on the new version, for a product
 * and for a base package, beside the floor measured in the same run: copying the same
 * unpacked bytes (`cp -r`) plus a cold start of the appliance to a healthy /health.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ApplianceClient } from '../src/clients/admin-client.js';
import { freePort, initApplianceProcess } from '../src/lab/processes.js';
import { generateEd25519, keyId, loadPrivateKey } from '../src/shared/crypto.js';
import { until } from '../src/shared/until.js';
import { CODE_ROOT } from '../src/shared/version.js';
import { buildPackage, type PackageKind } from '../src/updates/package.js';
import { writeFileSync } from 'node:fs';
import {
  Cleanup,
  ServerProcess,
  startBenchAppliance,
  figureTable,
  machine,
  median,
  writeResults,
  type Figure,
} from './support.js';

const HOST = '127.0.0.1';
const RUNS = 3;
const POLL_MS = 10;
const GOAL_RATIO = 1.3;
const ADMIN = 'Bench-Keeper-Pass-1';
const LOGIN = 'Bench-Login-Pass-2';
const RESULTS_FILE = fileURLToPath(new URL('./results-update.json', import.meta.url));

const progress = (line: string) => console.error(`[bench update] ${line}`);

interface Health {
  productVersion: string;
  baseVersion: string;
  ready: boolean;
  update: string | null;
}

interface Running {
  proc: ServerProcess;
  client: ApplianceClient;
  dataDir: string;
}

async function startAppliance(cleanup: Cleanup, dataDir: string, port: number): Promise<Running> {
  const { proc, client } = await startBenchAppliance(cleanup, {
    what: 'the appliance',
    dataDir,
    host: HOST,
    port,
    timeoutMs: 20_000,
    pollMs: POLL_MS,
  });
  return { proc, client, dataDir };
}

/** One install, timed from the request to /health answering on the new version, committed. */
async function timeInstall(
  cleanup: Cleanup,
  root: string,
  pubFile: string,
  pkg: string,
  kind: PackageKind,
  run: number,
): Promise<{ ms: number; dataDir: string; port: number }> {
  const dataDir = path.join(root, `${kind}-${run}`);
  await initApplianceProcess({
    dataDir,
    name: `bench-${kind}-${run}`,
    adminPassword: ADMIN,
    loginPassword: LOGIN,
    releaseKeyFiles: [pubFile],
  });
  const port = await freePort(HOST);
  const a = await startAppliance(cleanup, dataDir, port);
  await a.client.signIn('appliance', 'admin', ADMIN);
  const up = await a.client.call<{ id: string }>('POST', '/api/appliance/updates/upload', {
    raw: readFileSync(pkg),
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (up.status !== 201) throw new Error(`upload refused: ${JSON.stringify(up.body)}`);
  const t0 = performance.now();
  const res = await a.client.call('POST', `/api/appliance/updates/staged/${up.body.id}/install`, {
    json: {},
  });
  if (res.status !== 202) throw new Error(`install refused: ${JSON.stringify(res.body)}`);
  await until(
    async () => {
      const h = (await a.client.call<Health>('GET', '/health')).body;
      const v = kind === 'product' ? h.productVersion : h.baseVersion;
      return v === '1.1.0' && h.ready && h.update === null;
    },
    120_000,
    `the ${kind} install to be committed`,
    POLL_MS,
  );
  const ms = performance.now() - t0;
  await a.proc.stop();
  return { ms, dataDir, port };
}

/** The floor: copy the unpacked bytes the install wrote, then a cold start to healthy. */
async function timeFloor(
  cleanup: Cleanup,
  installed: { dataDir: string; port: number },
  kind: PackageKind,
): Promise<{ ms: number; copyMs: number; startMs: number }> {
  const from =
    kind === 'product'
      ? path.join(installed.dataDir, 'system', 'slots', 'a', 'dist')
      : path.join(installed.dataDir, 'system', 'bases', '1.1.0');
  const to = path.join(installed.dataDir, `floor-copy-${kind}`);
  const t0 = performance.now();
  execFileSync('cp', ['-r', from, to]);
  execFileSync('sync', ['-f', to]);
  const copyMs = performance.now() - t0;
  rmSync(to, { recursive: true, force: true });
  const t1 = performance.now();
  const a = await startAppliance(cleanup, installed.dataDir, installed.port);
  const startMs = performance.now() - t1;
  await a.proc.stop();
  return { ms: copyMs + startMs, copyMs, startMs };
}

export async function runUpdateBenchmark(): Promise<void> {
  await new Cleanup().around(async (cleanup) => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'gh-bench-update-'));
    cleanup.add(() => rmSync(root, { recursive: true, force: true }));
    const pair = generateEd25519();
    const pubFile = path.join(root, 'release.pub');
    writeFileSync(pubFile, pair.publicKeyPem);
    const signers = [{ key: loadPrivateKey(pair.privateKeyPem), keyId: keyId(pair.publicKeyPem) }];
    const pkgs: Record<PackageKind, string> = { product: '', base: '' };
    for (const kind of ['product', 'base'] as const) {
      pkgs[kind] = path.join(root, `${kind}-1.1.0.ghpkg`);
      const manifest = await buildPackage({
        kind,
        version: '1.1.0',
        from: CODE_ROOT,
        out: pkgs[kind],
        signers,
        tmpDir: path.join(root, `tmp-${kind}`),
      });
      const bytes = manifest.entries.reduce((n, e) => n + e.size, 0);
      progress(
        `${kind} package: ${manifest.entries.length} files, ${(bytes / 1048576).toFixed(1)} MiB`,
      );
    }

    const figures: Figure[] = [];
    const samples: Record<string, unknown> = {};
    for (const kind of ['product', 'base'] as const) {
      const installs: number[] = [];
      const floors: number[] = [];
      const parts: { copyMs: number; startMs: number }[] = [];
      for (let run = 0; run < RUNS; run++) {
        const installed = await timeInstall(cleanup, root, pubFile, pkgs[kind], kind, run);
        const floor = await timeFloor(cleanup, installed, kind);
        installs.push(installed.ms);
        floors.push(floor.ms);
        parts.push({ copyMs: floor.copyMs, startMs: floor.startMs });
        progress(
          `${kind} ${run + 1}/${RUNS}: install→healthy ${installed.ms.toFixed(0)} ms; floor ${floor.ms.toFixed(0)} ms (copy ${floor.copyMs.toFixed(0)} + cold start ${floor.startMs.toFixed(0)})`,
        );
      }
      samples[kind] = { installs, floors, parts };
      figures.push({
        figure: `${kind} install → healthy (median of ${RUNS})`,
        unit: 'ms',
        gatehouse: median(installs),
        anchor: median(floors),
      });
    }

    console.log(`\nUpdate installs — anchor: cp -r of the same unpacked bytes + cold start`);
    console.log(figureTable(figures));
    for (const f of figures) {
      const ratio = f.gatehouse / f.anchor;
      console.log(
        `${f.figure}: ${ratio.toFixed(2)}× the floor (goal ≤ ${GOAL_RATIO}×) ${ratio <= GOAL_RATIO ? 'met' : 'NOT met'}`,
      );
    }
    writeResults(RESULTS_FILE, {
      when: new Date().toISOString(),
      machine: machine(),
      figures,
      samples,
    });
  });
}
