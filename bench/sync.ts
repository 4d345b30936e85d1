/**
 * `npm run bench -- sync`: failover synchronisation between two real appliances on loopback.
 * (a) a full sync of N files beside `rsync -a` of the same tree over loopback SSH; (b) the
 * incremental sync after one changed file beside rsync of the same change; (c) the shared-IP
 * switch of a failover pair, from Become Primary on B to the first TLS handshake on the address.
 * BENCH_SYNC_FILES and BENCH_SYNC_SIZE (bytes) set the file store (10,000 × 100 KiB = 1 GiB);
 * BENCH_SYNC_FULL_ROUNDS (4) the rounds of (a), each into a fresh backup and a fresh rsync copy,
 * in alternating order; the figure is the median of each. Nothing is deleted until the end: on
 * ext4 without a journal, as here, creating files soon after deleting many scans the recently
 * deleted inodes (`recently_deleted()`), which made whichever side came next slower.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { PeerClient } from '../src/failover/peer-client.js';
import type { SyncResult } from '../src/failover/types.js';
import { freePort, initApplianceProcess, startApplianceProcess } from '../src/lab/processes.js';
import { startSshd } from './sshd.js';
import {
  Cleanup,
  figureTable,
  groupsCpuSeconds,
  machine,
  median,
  ownProcessGroup,
  settleDisks,
  writeResults,
} from './support.js';

const KEY = 'bench-sync-key-0123456789abcdef0123456789';
const FILES = Number(process.env.BENCH_SYNC_FILES ?? 10_000);
const SIZE = Number(process.env.BENCH_SYNC_SIZE ?? 100 * 1024);
const SHARED = '127.0.0.60';
const INCREMENTAL_ROUNDS = 5;
const FULL_ROUNDS = Math.max(1, Number(process.env.BENCH_SYNC_FULL_ROUNDS ?? 4));

const ms = (t0: number) => performance.now() - t0;

async function startAppliance(root: string, name: string, host: string, port: number) {
  const dataDir = path.join(root, name);
  await initApplianceProcess({
    dataDir,
    name,
    host,
    adminPassword: 'Gatekeeper-Pass-1',
    loginPassword: 'Site-Operator-Pw-2',
    interApplianceKey: KEY,
  });
  const proc = await startApplianceProcess(dataDir, { host, port, logLevel: 'warn' });
  const api = proc.client({ connections: 16 });
  await api.signIn('appliance', 'admin', 'Gatekeeper-Pass-1');
  await api.signIn('login', 'admin', 'Site-Operator-Pw-2');
  return { proc, api };
}

function rsync(ssh: string, src: string, dst: string): number {
  const t0 = performance.now();
  const r = spawnSync('rsync', ['-a', '-e', ssh, `${src}/`, `127.0.0.1:${dst}/`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`rsync failed: ${r.stderr.toString()}`);
  return ms(t0);
}

/** Time to the first completed TLS handshake on `host:port`, trying every 2 ms. */
async function firstHandshake(host: string, port: number, t0: number): Promise<number> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tls.connect({ host, port, rejectUnauthorized: false }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return ms(t0);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function runSyncBenchmark(): Promise<void> {
  execFileSync('bash', [path.join(import.meta.dirname, '../../scripts/install-bench-deps.sh')], {
    stdio: 'inherit',
  });
  await new Cleanup().around(async (cleanup) => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-sync-'));
    cleanup.add(() => rmSync(root, { recursive: true, force: true }));
    const port = await freePort('127.0.0.41');
    const [a, b] = await Promise.all([
      startAppliance(root, 'bench-a', '127.0.0.41', port),
      startAppliance(root, 'bench-b', '127.0.0.42', port),
    ]);
    for (const x of [a, b]) {
      cleanup.add(() => x.proc.stop().catch(() => x.proc.kill()));
      cleanup.add(() => x.api.close());
    }
    const pullInto = async (backup: typeof b) => {
      const to = new PeerClient(
        { host: backup.proc.host, port: backup.proc.port },
        backup.proc.fingerprint,
        () => KEY,
        'bench',
      );
      try {
        return await to.call<SyncResult>('POST', '/api/peer/sync/run', {
          mode: 'mirror',
          peer: {
            name: 'bench-a',
            address: { host: a.proc.host, port: a.proc.port },
            fingerprint: a.proc.fingerprint,
          },
        });
      } finally {
        await to.close();
      }
    };
    const pull = () => pullInto(b);

    // The same N files into the primary's file store (16 uploads in flight) and a local tree.
    const tree = path.join(root, 'tree');
    let copy = '';
    mkdirSync(tree);
    const names = Array.from({ length: FILES }, (_, i) => `f-${String(i).padStart(5, '0')}.bin`);
    const upload = async (name: string) => {
      const data = randomBytes(SIZE);
      writeFileSync(path.join(tree, name), data);
      const res = await a.api.call('PUT', `/api/login/files/${name}`, { raw: data });
      if (res.status >= 300) throw new Error(`upload ${name}: ${res.status}`);
    };
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < names.length) await upload(names[next++]!);
      }),
    );
    console.log(`uploaded ${FILES} files of ${SIZE} bytes in ${(ms(t0) / 1000).toFixed(1)} s`);
    spawnSync('sync');

    // (a) full sync beside rsync, FULL_ROUNDS times: each into a fresh backup (B itself last)
    // and a fresh copy, the two in alternating order, each once the disks are quiet.
    const ssh = await startSshd(path.join(root, 'ssh'), cleanup);
    /** Per round: time (ms) and CPU seconds of each side (both appliances; rsync, ssh, sshd). */
    const fullRounds: {
      gatehouse: number;
      rsync: number;
      gatehouseCpu: number;
      rsyncCpu: number;
    }[] = [];
    let full: SyncResult | undefined;
    let t: number;
    for (let round = 0; round < FULL_ROUNDS; round++) {
      const last = round === FULL_ROUNDS - 1;
      const backup = last
        ? b
        : await startAppliance(root, `bench-b${round}`, `127.0.0.${43 + round}`, port);
      const timed: Partial<(typeof fullRounds)[number]> = {};
      const appliances = [a.proc.child.pid!, backup.proc.child.pid!];
      const gatehouse = async () => {
        await settleDisks();
        const cpu0 = groupsCpuSeconds(appliances);
        const t0 = performance.now();
        full = await pullInto(backup);
        timed.gatehouse = ms(t0);
        timed.gatehouseCpu = groupsCpuSeconds(appliances) - cpu0;
      };
      const anchor = async () => {
        copy = path.join(root, `rsync-copy-${round}`);
        mkdirSync(copy);
        await settleDisks();
        // rsync and ssh are this process's children; sshd and its session are in its group.
        const cpu0 = groupsCpuSeconds([ownProcessGroup()], true);
        timed.rsync = rsync(ssh, tree, copy);
        timed.rsyncCpu = groupsCpuSeconds([ownProcessGroup()], true) - cpu0;
      };
      if (round % 2 === 0) {
        await gatehouse();
        await anchor();
      } else {
        await anchor();
        await gatehouse();
      }
      fullRounds.push(timed as (typeof fullRounds)[number]);
      console.log(
        `full sync round ${round + 1}: gatehouse ${Math.round(timed.gatehouse!)} ms (${timed.gatehouseCpu!.toFixed(1)} CPU-s), rsync ${Math.round(timed.rsync!)} ms (${timed.rsyncCpu!.toFixed(1)} CPU-s)`,
        full!.blobs,
      );
      if (!last) {
        await backup.api.close();
        await backup.proc.stop().catch(() => backup.proc.kill());
      }
    }
    const fullMs = median(fullRounds.map((r) => r.gatehouse));
    const rsyncFullMs = median(fullRounds.map((r) => r.rsync));

    // (b) one changed file among N, several rounds.
    const incremental: number[] = [];
    const rsyncIncremental: number[] = [];
    for (let round = 0; round < INCREMENTAL_ROUNDS; round++) {
      await upload(names[round]!);
      t = performance.now();
      const r = await pull();
      incremental.push(ms(t));
      if (r.blobs.fetched !== 1) throw new Error(`incremental sync fetched ${r.blobs.fetched}`);
      rsyncIncremental.push(rsync(ssh, tree, copy));
    }

    // (c) the shared-IP switch of a failover pair (S19, S25): A is primary and holds the shared
    // address; A becomes backup (releasing it); timed from B's Become Primary to the first
    // TLS handshake on the address, which only B can now complete.
    await a.api.call('POST', '/api/appliance/network/addresses', {
      json: { address: SHARED, kind: 'shared', enabled: true },
    });
    await b.api.call('POST', '/api/appliance/network/addresses', {
      json: { address: SHARED, kind: 'shared', enabled: false },
    });
    const established = await a.api.call('POST', '/api/login/failover/establish', {
      json: {
        backupHost: b.proc.host,
        backupPort: port,
        reverseHost: a.proc.host,
        reversePort: port,
      },
    });
    if (established.status !== 201)
      throw new Error(
        `establish answered ${established.status}: ${JSON.stringify(established.body)}`,
      );
    await firstHandshake(SHARED, port, performance.now());
    const stepped = await a.api.call('POST', '/api/login/failover/become-backup', {
      json: { force: true },
    });
    if (stepped.status !== 200) throw new Error(`become-backup on A answered ${stepped.status}`);
    t = performance.now();
    const promoted = await b.api.call('POST', '/api/login/failover/become-primary', {
      json: { force: true },
    });
    if (promoted.status !== 200)
      throw new Error(
        `become-primary on B answered ${promoted.status}: ${JSON.stringify(promoted.body)}`,
      );
    const switchMs = await firstHandshake(SHARED, port, t);
    const holder = (await b.api.call<{ role: string }>('GET', '/health')).body.role;
    if (holder !== 'primary') throw new Error(`B reports role ${holder} after Become Primary`);

    const figures = [
      {
        figure: `full sync, ${FILES} files × ${SIZE} B (median of ${FULL_ROUNDS}; anchor: rsync -a over ssh)`,
        unit: 'ms' as const,
        gatehouse: fullMs,
        anchor: rsyncFullMs,
      },
      {
        figure: `CPU of the full sync, both ends (median; anchor: rsync, ssh and sshd)`,
        unit: 'CPU-s' as const,
        gatehouse: median(fullRounds.map((r) => r.gatehouseCpu)),
        anchor: median(fullRounds.map((r) => r.rsyncCpu)),
      },
      {
        figure: `incremental, 1 changed of ${FILES} (median of ${INCREMENTAL_ROUNDS}; anchor: rsync)`,
        unit: 'ms' as const,
        gatehouse: median(incremental),
        anchor: median(rsyncIncremental),
      },
      {
        figure: 'Become Primary → first TLS handshake on the shared IP (anchor: keepalived ~3 s)',
        unit: 'ms' as const,
        gatehouse: switchMs,
        anchor: 3000,
      },
    ];
    console.log(figureTable(figures));
    writeResults(fileURLToPath(new URL('./results-sync.json', import.meta.url)), {
      date: new Date().toISOString(),
      machine: machine(),
      files: FILES,
      size: SIZE,
      figures,
      fullRounds,
      incremental,
      rsyncIncremental,
      fullResult: full,
    });
  });
}
