/**
 * `npm run bench -- resume`: sessions that survive the appliance under them, on one appliance
 * on loopback (console and Jump Client in this process), measured in the same run:
 * (a) throughput of BENCH_RESUME_BYTES (256 MiB) console → target through a resumable leg,
 *     beside the same copy through a leg as the previous release opened it (no resumption),
 *     alternated, median of BENCH_RESUME_ROUNDS (3);
 * (b) cause "kill": BENCH_RESUME_RUNS (20) times, an interactive session (1 KiB echoed every
 *     50 ms) while the appliance is SIGKILLed and started again: the pause the session saw
 *     (longest wait for an echo), beside the appliance's own restart time (kill → healthy);
 *     bytes lost (echoes wrong or missing) and sessions dropped.
 * Causes install, failover and drain are measured by the tests (test/cluster.test.ts prints
 * the drain pause), not here yet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import {
  initApplianceProcess,
  startApplianceProcess,
  type ApplianceProcess,
} from '../src/lab/processes.js';
import { interactive } from '../src/lab/resume-load.js';
import { startTargets } from '../src/lab/targets.js';
import { until } from '../src/shared/until.js';
import { figureTable, machine, median, writeResults, type Figure } from './support.js';

const HOST = '127.0.0.1';
const BYTES = Number(process.env.BENCH_RESUME_BYTES ?? 256 * 1024 * 1024);
const ROUNDS = Number(process.env.BENCH_RESUME_ROUNDS ?? 3);
const RUNS = Number(process.env.BENCH_RESUME_RUNS ?? 20);
const LOGIN_PASSWORD = 'Site-Operator-Pw-2';
const RESULTS_FILE = fileURLToPath(new URL('./results-resume.json', import.meta.url));
const progress = (line: string) => console.error(`[bench resume] ${line}`);

/** A target that counts what each connection sends; resolves the count at its end. */
async function startSink(): Promise<{ address: string; close(): Promise<void> }> {
  const server = net.createServer((s) => {
    s.on('error', () => s.destroy());
    s.resume();
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return {
    address: `${HOST}:${(server.address() as net.AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** MB/s of one copy of BYTES console → sink, ended once the sink closed its side. */
async function copy(rep: RepresentativeConsole, sink: string): Promise<number> {
  const { socket } = await rep.openSession('bench-jump', sink);
  const chunk = Buffer.alloc(256 * 1024, 7);
  const t0 = performance.now();
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.resume();
  for (let sent = 0; sent < BYTES; sent += chunk.length)
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  socket.end();
  await closed;
  return BYTES / 1e6 / ((performance.now() - t0) / 1000);
}

export async function runResumeBenchmark(): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'gh-bench-resume-'));
  const dataDir = path.join(root, 'data');
  let proc: ApplianceProcess | undefined;
  const [targets, sink] = await Promise.all([startTargets(HOST), startSink()]);
  let jump: JumpClient | undefined;
  let rep: RepresentativeConsole | undefined;
  try {
    await initApplianceProcess({
      dataDir,
      name: 'bench-resume',
      host: HOST,
      adminPassword: 'Gatekeeper-Pass-1',
      loginPassword: LOGIN_PASSWORD,
    });
    proc = await startApplianceProcess(dataDir, { host: HOST });
    const api = proc.client();
    await api.signIn('login', 'admin', LOGIN_PASSWORD);
    const { token } = (
      await api.call<{ token: string }>('POST', '/api/login/jump-clients/tokens', { json: {} })
    ).body;
    await api.close();
    const site = { host: HOST, port: proc.port, fingerprint: proc.fingerprint };
    jump = new JumpClient({
      site,
      name: 'bench-jump',
      group: 'bench',
      token,
      allow: [targets.echo, sink.address],
    });
    jump.start();
    rep = await RepresentativeConsole.signIn(site, 'admin', LOGIN_PASSWORD);
    await until(() => jump!.state === 'connected', 20_000, 'the Jump Client');

    const resumable: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const offer of [true, false]) {
        rep.offerResume = offer;
        const mbs = await copy(rep, sink.address);
        (offer ? resumable : plain).push(mbs);
        progress(
          `copy ${i + 1}/${ROUNDS} ${offer ? 'resumable' : 'previous'}: ${mbs.toFixed(0)} MB/s`,
        );
      }
    }
    rep.offerResume = true;

    const pauses: number[] = [];
    const restarts: number[] = [];
    let lost = 0;
    let dropped = 0;
    for (let i = 0; i < RUNS; i++) {
      const { socket } = await rep.openSession('bench-jump', targets.echo);
      const echo = interactive(socket);
      await until(() => echo.rounds() > 5, 20_000, 'the echo to run');
      const t0 = performance.now();
      await proc.kill();
      proc = await startApplianceProcess(dataDir, { host: HOST, port: site.port });
      restarts.push(performance.now() - t0);
      const at = echo.rounds();
      await until(
        () => echo.rounds() > at + 5 || echo.problems.length > 0,
        180_000,
        'the echo to go on',
      );
      pauses.push(echo.longestWaitMs());
      echo.stop();
      lost += echo.problems.filter((p) => p.includes('differs')).length;
      dropped += echo.problems.some((p) => p.startsWith('session failed')) ? 1 : 0;
      progress(`kill ${i + 1}/${RUNS}: pause ${pauses.at(-1)!.toFixed(0)} ms`);
    }

    const figures: Figure[] = [
      {
        figure: `throughput of a resumable leg (anchor: a leg without resumption), ${BYTES / 1048576} MiB`,
        unit: 'MB/s',
        gatehouse: median(resumable),
        anchor: median(plain),
        goal: `≥ 0.95×: ${median(resumable) >= 0.95 * median(plain) ? 'met' : 'NOT met'}`,
      },
      {
        figure: `kill: pause, median of ${RUNS} (anchor: appliance restart, kill → healthy)`,
        unit: 'ms',
        gatehouse: median(pauses),
        anchor: median(restarts),
      },
      {
        figure: `kill: pause, max of ${RUNS} (anchor: longest restart)`,
        unit: 'ms',
        gatehouse: Math.max(...pauses),
        anchor: Math.max(...restarts),
      },
    ];
    console.log(figureTable(figures));
    console.log(`kill: echoes lost or wrong ${lost}; sessions dropped ${dropped} of ${RUNS}`);
    writeResults(RESULTS_FILE, {
      date: new Date().toISOString(),
      machine: machine(),
      figures,
      kill: { runs: RUNS, lost, dropped, pauses, restarts },
    });
  } finally {
    await rep?.close();
    await jump?.stop();
    await proc?.stop().catch(() => proc?.kill());
    await targets.close();
    await sink.close();
    rmSync(root, { recursive: true, force: true });
  }
}
