/**
 * `npm run bench -- appliance`: cold start of `gatehouse appliance start` and admin API read and
 * write throughput, each beside a bare Node HTTPS server (bench/https-anchor.ts) measured in the
 * same run, with the same TLS key and certificate, on the same machine.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ApplianceClient } from '../src/clients/admin-client.js';
import { GATEHOUSE_BIN, freePort, initApplianceProcess } from '../src/lab/processes.js';
import { randomToken } from '../src/shared/crypto.js';
import { until } from '../src/shared/until.js';
import {
  Cleanup,
  ServerProcess,
  figureTable,
  machine,
  compareLoad,
  cpuSnapshot,
  median,
  otherProcessesCpu,
  writeResults,
  type Figure,
  type LoadResult,
  type LoadSpec,
} from './support.js';
import { metricsCost } from './metrics-cost.js';

const HOST = '127.0.0.1';
const COLD_START_RUNS = 5;
const COLD_START_GOAL_MS = 1_000;
const HEALTH_POLL_MS = 10;
const CONNECTIONS = 16;
const WARMUP_MS = 1_000;
const ROUNDS = 5;
const ROUND_MS = 1_000;
const ANCHOR_SCRIPT = fileURLToPath(new URL('./https-anchor.js', import.meta.url));
const RESULTS_FILE = fileURLToPath(new URL('./results-appliance.json', import.meta.url));

interface Tls {
  keyFile: string;
  certFile: string;
  certPem: string;
}

type Launch = (port: number) => ServerProcess;

const progress = (line: string) => console.error(`[bench appliance] ${line}`);

function launchAppliance(cleanup: Cleanup, dataDir: string): Launch {
  return (port) => {
    const proc = new ServerProcess('gatehouse appliance start', [
      GATEHOUSE_BIN,
      'appliance',
      'start',
      '--data-dir',
      dataDir,
      '--listen',
      `${HOST}:${port}`,
      '--log-level',
      'info',
    ]);
    cleanup.add(() => proc.stop());
    return proc;
  };
}

function launchAnchor(
  cleanup: Cleanup,
  tls: Tls,
  bodies: { get?: string; patch?: string } = {},
): Launch {
  return (port) => {
    const proc = new ServerProcess('anchor HTTPS server', [ANCHOR_SCRIPT], {
      ...process.env,
      ANCHOR_LISTEN: `${HOST}:${port}`,
      ANCHOR_TLS_KEY: tls.keyFile,
      ANCHOR_TLS_CERT: tls.certFile,
      ANCHOR_GET_BODY: bodies.get ?? '{}',
      ANCHOR_PATCH_BODY: bodies.patch ?? '{}',
    });
    cleanup.add(() => proc.stop());
    return proc;
  };
}

/**
 * Spawn a server and poll GET /health every ~10 ms until it answers 200 with ready:true.
 * Returns the server and the milliseconds from spawn to that answer.
 */
async function startAndTime(
  launch: Launch,
  tls: Tls,
): Promise<{ proc: ServerProcess; origin: string; ms: number }> {
  const port = await freePort(HOST);
  const origin = `https://${HOST}:${port}`;
  const client = new ApplianceClient(origin, { certPem: tls.certPem }, { connections: 1 });
  try {
    const t0 = performance.now();
    const proc = launch(port);
    const state = await until(
      async () => {
        if (!proc.running) return 'exited';
        const res = await client.call<{ ready?: boolean }>('GET', '/health');
        return res.status === 200 && res.body.ready === true ? 'ready' : false;
      },
      20_000,
      `${proc.label} to answer GET /health`,
      HEALTH_POLL_MS,
    );
    const ms = performance.now() - t0;
    if (state === 'exited') throw new Error(`${proc.label} exited:\n${proc.lastOutput}`);
    return { proc, origin, ms };
  } finally {
    await client.close();
  }
}

/** Cold starts, appliance and anchor alternately so that both see the same machine state. */
interface ColdStarts {
  gatehouse: number[];
  anchor: number[];
}

async function coldStarts(appliance: Launch, anchor: Launch, tls: Tls): Promise<ColdStarts> {
  const samples: ColdStarts = { gatehouse: [], anchor: [] };
  for (let i = 0; i < COLD_START_RUNS; i++) {
    for (const [key, launch] of [
      ['gatehouse', appliance],
      ['anchor', anchor],
    ] as const) {
      const { proc, ms } = await startAndTime(launch, tls);
      await proc.stop();
      samples[key].push(ms);
    }
    progress(
      `cold start ${i + 1}/${COLD_START_RUNS}: gatehouse ${samples.gatehouse.at(-1)?.toFixed(0)} ms, anchor ${samples.anchor.at(-1)?.toFixed(0)} ms`,
    );
  }
  return samples;
}

interface AdminApiLoads {
  read: Record<'gatehouse' | 'anchor', LoadResult>;
  write: Record<'gatehouse' | 'anchor', LoadResult>;
  metrics: Figure[];
}

/**
 * GET /api/login/users and PATCH /api/login/settings (a new site name each time, so every
 * request is a real write) on the appliance, and the same requests on the anchor, which answers
 * with bodies of the same bytes.
 */
async function adminApiLoads(
  cleanup: Cleanup,
  dataDir: string,
  tls: Tls,
  loginPassword: string,
  adminPassword: string,
): Promise<AdminApiLoads> {
  const gatehouse = await startAndTime(launchAppliance(cleanup, dataDir), tls);
  const api = new ApplianceClient(gatehouse.origin, { certPem: tls.certPem });
  cleanup.add(() => api.close());
  const { token } = await api.signIn('login', 'admin', loginPassword);
  let writes = 0;
  const nextSettings = () => JSON.stringify({ siteName: `Bench site ${++writes}` });
  const users = await api.call('GET', '/api/login/users');
  const settings = await api.call('PATCH', '/api/login/settings', {
    json: JSON.parse(nextSettings()),
  });
  if (users.status !== 200 || settings.status !== 200)
    throw new Error(`setup requests answered ${users.status} and ${settings.status}`);
  const anchor = await startAndTime(
    launchAnchor(cleanup, tls, {
      get: JSON.stringify(users.body),
      patch: JSON.stringify(settings.body),
    }),
    tls,
  );

  const headers = { accept: 'application/json', authorization: `Bearer ${token}` };
  const read: Omit<LoadSpec, 'origin'> = {
    certPem: tls.certPem,
    method: 'GET',
    path: '/api/login/users',
    headers,
    expectStatus: 200,
    connections: CONNECTIONS,
  };
  const write: Omit<LoadSpec, 'origin'> = {
    ...read,
    method: 'PATCH',
    path: '/api/login/settings',
    headers: { ...headers, 'content-type': 'application/json' },
    body: nextSettings,
  };
  const both = async (spec: Omit<LoadSpec, 'origin'>) => {
    progress(`${spec.method} ${spec.path}: ${CONNECTIONS} connections`);
    return compareLoad(
      {
        gatehouse: { ...spec, origin: gatehouse.origin },
        anchor: { ...spec, origin: anchor.origin },
      },
      { warmupMs: WARMUP_MS, rounds: ROUNDS, roundMs: ROUND_MS },
    );
  };
  const loads = { read: await both(read), write: await both(write), metrics: [] as Figure[] };
  progress('the cost of metrics: the read load scraped every second, and one scrape');
  await api.signIn('appliance', 'admin', adminPassword);
  loads.metrics = await metricsCost(
    api,
    { ...read, origin: gatehouse.origin },
    { warmupMs: WARMUP_MS, rounds: ROUNDS, roundMs: ROUND_MS },
  );
  await Promise.all([gatehouse.proc.stop(), anchor.proc.stop()]);
  return loads;
}

function figuresOf(cold: ColdStarts, loads: AdminApiLoads): Figure[] {
  return [
    {
      figure: `cold start to GET /health 200 (median of ${COLD_START_RUNS})`,
      unit: 'ms',
      gatehouse: median(cold.gatehouse),
      anchor: median(cold.anchor),
    },
    ...(
      [
        ['GET /api/login/users', loads.read],
        ['PATCH /api/login/settings', loads.write],
      ] as const
    ).flatMap(([what, l]): Figure[] => [
      {
        figure: `${what} throughput`,
        unit: 'req/s',
        gatehouse: l.gatehouse.requestsPerSecond,
        anchor: l.anchor.requestsPerSecond,
      },
      { figure: `${what} p50`, unit: 'ms', gatehouse: l.gatehouse.p50Ms, anchor: l.anchor.p50Ms },
      { figure: `${what} p99`, unit: 'ms', gatehouse: l.gatehouse.p99Ms, anchor: l.anchor.p99Ms },
    ]),
    ...loads.metrics,
  ];
}

export async function runApplianceBenchmark(): Promise<void> {
  await new Cleanup().around(async (cleanup) => {
    const loadAverageBefore = os.loadavg()[0] ?? NaN;
    const cpuBefore = cpuSnapshot();
    const startedAt = performance.now();
    const root = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
    cleanup.add(() => rmSync(root, { recursive: true, force: true }));
    const dataDir = path.join(root, 'appliance');
    const loginPassword = `Bench-${randomToken(9)}-2b`;
    const adminPassword = `Bench-${randomToken(9)}-1a`;
    progress(`initialising an appliance in ${dataDir}`);
    await initApplianceProcess({
      dataDir,
      name: 'appliance-bench',
      host: HOST,
      adminPassword,
      loginPassword,
    });
    const tls: Tls = {
      keyFile: path.join(dataDir, 'tls', 'key.pem'),
      certFile: path.join(dataDir, 'tls', 'cert.pem'),
      certPem: readFileSync(path.join(dataDir, 'tls', 'cert.pem'), 'utf8'),
    };

    const cold = await coldStarts(
      launchAppliance(cleanup, dataDir),
      launchAnchor(cleanup, tls),
      tls,
    );
    const loads = await adminApiLoads(cleanup, dataDir, tls, loginPassword, adminPassword);
    const figures = figuresOf(cold, loads);

    // Every server has exited by now, so their CPU time is in this process's own tree.
    const seconds = (performance.now() - startedAt) / 1000;
    const others = otherProcessesCpu(cpuBefore, cpuSnapshot());
    const env = {
      ...machine(),
      loadAverage1mBefore: loadAverageBefore,
      seconds,
      otherProcessesCpuSeconds: others?.otherSeconds ?? null,
    };
    const coldMedian = figures[0]!.gatehouse;
    console.log(
      `\nAppliance: node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}); load average ${loadAverageBefore.toFixed(2)} before, ${env.loadAverage1m.toFixed(2)} after`,
    );
    if (others)
      console.log(
        `Other processes used ${others.otherSeconds.toFixed(1)} CPU-seconds during the ${seconds.toFixed(0)} s run (${((100 * others.otherSeconds) / (seconds * env.cpus)).toFixed(0)}% of the machine)`,
      );
    console.log(
      `Load: ${CONNECTIONS} connections, pipelining 1, ${WARMUP_MS / 1000} s warm-up, then ${ROUNDS} × ${ROUND_MS / 1000} s measured on each server in alternation; ratio = Gatehouse / anchor\n`,
    );
    console.log(figureTable(figures));
    console.log(
      `\nGoal (issue): cold start under ${COLD_START_GOAL_MS} ms: ${coldMedian < COLD_START_GOAL_MS ? 'met' : 'NOT met'} (median ${Math.round(coldMedian)} ms)`,
    );
    writeResults(RESULTS_FILE, {
      benchmark: 'appliance',
      date: new Date().toISOString(),
      machine: env,
      parameters: {
        coldStartRuns: COLD_START_RUNS,
        healthPollMs: HEALTH_POLL_MS,
        connections: CONNECTIONS,
        pipelining: 1,
        warmupMs: WARMUP_MS,
        rounds: ROUNDS,
        roundMs: ROUND_MS,
      },
      figures: figures.map((f) => ({ ...f, ratio: f.gatehouse / f.anchor })),
      coldStartSamplesMs: cold,
      coldStartGoalMs: COLD_START_GOAL_MS,
      loads,
    });
    progress(`results written to ${RESULTS_FILE}`);
  });
}
