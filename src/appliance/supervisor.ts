import { fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { Logger } from 'pino';
import { fsyncPathSync } from '../shared/fs.js';
import type { ServeOptions } from '../shared/http/server.js';
import { createLogger, openLogFile } from '../shared/logging.js';
import type { RotatingLogFile } from '../shared/log-file.js';
import { CODE_ROOT } from '../shared/version.js';
import { SystemDir, treeVersions, type BootState } from '../updates/slots.js';
import { DataDir, notInitialised } from './data-paths.js';
import { EXIT_REBOOT, EXIT_RESTART } from './exit-codes.js';
import { lockDataDir } from './lock.js';
import { freePort } from '../shared/ports.js';

/**
 * `appliance start`: the appliance's boot loader. It is never replaced by an update: it reads
 * system/boot.json, runs the active slot's code as a worker process, and decides what happens
 * when that worker exits. A slot on trial must pass a real HTTPS health check within its
 * deadline; then the switch is committed, otherwise the appliance returns to the previous
 * slot by itself (restoring the pre-update database snapshot) and records why.
 */
export async function superviseAppliance(opts: ServeOptions): Promise<void> {
  const dir = new DataDir(opts.dataDir);
  // The worker validates the data directory fully; the supervisor only needs its name.
  if (!existsSync(dir.identityFile)) throw notInitialised(dir.root);
  const identity = JSON.parse(readFileSync(dir.identityFile, 'utf8')) as { name: string };
  const unlock = lockDataDir(opts.dataDir, 'supervisor.lock');
  const name = `${identity.name}/supervisor`;
  // At the default limits until the worker, which reads the setting, says otherwise.
  const logFile = openLogFile(path.join(dir.logs, 'supervisor.log'), name);
  const log = createLogger({ name, file: logFile, level: opts.logLevel });
  const sys = new SystemDir(opts.dataDir);
  // A fixed port across worker restarts: resolve "port 0" once.
  const listen = { ...opts.listen };
  if (listen.port === 0) listen.port = await freePort(listen.host);

  let worker: ChildProcess | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the appliance');
    worker?.kill('SIGTERM');
    if (!worker) finish(0);
  };
  const finish = (code: number) => {
    unlock();
    log.flush();
    process.exit(code);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  let crashes = 0;
  let rotation = '';
  for (;;) {
    let boot = sys.readBoot();
    if (boot.rollback) boot = rollBack(sys, dir, boot, log);
    const tree = sys.treeOf(boot.active, CODE_ROOT);
    if (boot.active !== 'factory' && !existsSync(path.join(tree, 'bin', 'gatehouse.js'))) {
      // Only reachable if someone removed a slot by hand; the previous slot still runs.
      sys.writeBoot({ ...boot, rollback: { reason: `slot ${boot.active} is missing its code` } });
      continue;
    }
    const startedAt = Date.now();
    worker = runWorker(tree, opts, listen, boot);
    worker.on('message', (m) => (rotation = followLogRotation(m, rotation, logFile, log)));
    log.info(
      { slot: boot.active, ...treeVersions(tree), trial: !!boot.trial, pid: worker.pid },
      'worker started',
    );
    const outcome = await watchWorker(worker, boot, listen, dir, log);
    worker = undefined;
    if (stopping) return finish(0);
    if (outcome.kind === 'committed-and-exited' || outcome.kind === 'exited') {
      const code = outcome.code;
      if (code === EXIT_RESTART || code === EXIT_REBOOT) {
        log.info(
          { code },
          code === EXIT_REBOOT ? 'rebooting into the new base' : 'restarting into the new product',
        );
        crashes = 0;
        continue;
      }
      if (code === 0) return finish(0);
      // Exit code 2 is a refusal the worker explained on stderr (address in use, bad data
      // directory): restarting would only repeat it.
      if (code === 2) return finish(2);
      crashes = Date.now() - startedAt > 60_000 ? 1 : crashes + 1;
      const backoff = Math.min(30_000, 500 * 2 ** (crashes - 1));
      log.error({ code, backoffMs: backoff }, 'worker exited unexpectedly; restarting');
      await new Promise((r) => setTimeout(r, backoff));
      if (stopping) return finish(0);
      continue;
    }
    // The trial failed: record why, return to the previous slot.
    log.error({ reason: outcome.reason }, 'the new software failed its health check; rolling back');
    sys.writeBoot({ ...boot, rollback: { reason: outcome.reason } });
  }
}

/**
 * The worker tells the log rotation setting at its start and when it changes; a new one is
 * logged (in the file it applies to). Returns the setting now followed.
 */
function followLogRotation(
  message: unknown,
  followed: string,
  logFile: RotatingLogFile,
  log: Logger,
): string {
  const m = message as { type?: string; rotation?: { maxFileMiB?: unknown; keepFiles?: unknown } };
  if (m?.type !== 'log-rotation') return followed;
  // The worker validated the setting; not parsed again with its schema here, which would load
  // zod into the supervisor at every start. The file refuses limits that are not whole numbers.
  const maxFileMiB = Number(m.rotation?.maxFileMiB);
  const keepFiles = Number(m.rotation?.keepFiles);
  try {
    logFile.setLimits({ maxFileBytes: maxFileMiB * 1024 * 1024, keepFiles });
  } catch (e) {
    log.warn(
      { rotation: m.rotation, reason: (e as Error).message },
      'log rotation setting from the worker not understood',
    );
    return followed;
  }
  const said = `${maxFileMiB} MiB × ${keepFiles}`;
  if (said === followed) return followed;
  log.info({ maxFileMiB, keepFiles }, `log files rotated at ${maxFileMiB} MiB, ${keepFiles} kept`);
  return said;
}

/**
 * V8 flags of the worker, placed before the supervisor's own (which, coming later, win). A young
 * generation of at most 1 MiB per semi-space: Node 20's V8 counts the memory outside the heap
 * allocated since the last mark-compact (the 16 KiB buffer of every TLS read) against the old
 * generation's limit, and only a scavenge or a mark-compact frees those buffers. With the
 * default (up to 16 MiB) a relaying worker scavenged every few tens of MiB relayed, so the limit
 * came first: a mark-compact every ~20 MiB relayed, freeing nothing of the heap, and the freed
 * buffers' memory taken fresh from the kernel again (docs/benchmarks.md, issue 21). Scavenging
 * after each MiB of JavaScript allocation (~6 MiB relayed) frees them before the limit.
 */
export const WORKER_V8_FLAGS = ['--max-semi-space-size=1'];

function runWorker(
  tree: string,
  opts: ServeOptions,
  listen: { host: string; port: number },
  boot: BootState,
): ChildProcess {
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return fork(
    path.join(tree, 'bin', 'gatehouse.js'),
    [
      'appliance',
      'run',
      '--data-dir',
      opts.dataDir,
      '--listen',
      `${host}:${listen.port}`,
      '--log-level',
      opts.logLevel ?? 'info',
    ],
    {
      cwd: tree,
      execArgv: [...WORKER_V8_FLAGS, ...process.execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, GATEHOUSE_TRIAL: boot.trial ? '1' : '' },
    },
  );
}

type Outcome =
  | { kind: 'exited'; code: number }
  | { kind: 'committed-and-exited'; code: number }
  | { kind: 'trial-failed'; reason: string };

async function watchWorker(
  worker: ChildProcess,
  boot: BootState,
  listen: { host: string; port: number },
  dir: DataDir,
  log: Logger,
): Promise<Outcome> {
  const exited = new Promise<number>((resolve) =>
    worker.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  if (!boot.trial) return { kind: 'exited', code: await exited };
  const sys = new SystemDir(dir.root);
  const deadlineMs = Number(process.env.GATEHOUSE_TRIAL_DEADLINE_MS) || boot.trial.deadlineMs;
  const deadline = Date.now() + deadlineMs;
  const cert = readFileSync(dir.tlsCert, 'utf8');
  let exitCode: number | undefined;
  void exited.then((c) => (exitCode = c));
  let healthy: { productVersion: string; baseVersion: string } | undefined;
  while (Date.now() < deadline && exitCode === undefined && !healthy) {
    healthy = await probeHealth(listen, cert);
    if (!healthy) await new Promise((r) => setTimeout(r, 10));
  }
  if (exitCode !== undefined) {
    return {
      kind: 'trial-failed',
      reason: `the new software exited with code ${exitCode} before it was healthy`,
    };
  }
  if (!healthy) {
    worker.kill('SIGKILL');
    await exited;
    return {
      kind: 'trial-failed',
      reason: `the new software did not pass its health check within ${Math.round(deadlineMs / 1000)} s`,
    };
  }
  const expected = boot.trial.to;
  if (healthy.productVersion !== expected.product || healthy.baseVersion !== expected.base) {
    worker.kill('SIGKILL');
    await exited;
    return {
      kind: 'trial-failed',
      reason: `the new software reports product ${healthy.productVersion} / base ${healthy.baseVersion}, not the installed ${expected.product} / ${expected.base}`,
    };
  }
  commit(sys, boot);
  log.info({ to: expected }, 'update committed: the new software passed its health check');
  worker.send({ type: 'update-committed' });
  return { kind: 'committed-and-exited', code: await exited };
}

/** Trial passed: the switch becomes permanent; the snapshot is no longer needed. */
function commit(sys: SystemDir, boot: BootState): void {
  const { trial } = boot;
  sys.writeBoot({
    format: 1,
    active: boot.active,
    ...(boot.previous ? { previous: boot.previous } : {}),
  });
  sys.appendHistory({ event: 'committed', kind: trial?.kind, from: trial?.from, to: trial?.to });
  sys.writeLastResult({ ok: true, kind: trial?.kind, attempted: trial?.to, runs: trial?.to });
  rmSync(sys.snapshot, { force: true });
}

/**
 * Return to the previous slot. Every step can be repeated, so a crash in the middle of a
 * rollback simply rolls back again on the next start.
 */
function rollBack(sys: SystemDir, dir: DataDir, boot: BootState, log: Logger): BootState {
  const reason = boot.rollback?.reason ?? 'unknown';
  if (boot.trial?.snapshot && existsSync(sys.snapshot)) {
    const db = dir.database;
    const staged = `${db}.rollback`;
    copyFileSync(sys.snapshot, staged);
    fsyncPathSync(staged);
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    renameSync(staged, db);
    fsyncPathSync(path.dirname(db));
  }
  sys.appendHistory({
    event: 'rolled-back',
    kind: boot.trial?.kind,
    from: boot.trial?.to,
    to: boot.trial?.from,
    reason,
  });
  sys.writeLastResult({
    ok: false,
    reason,
    kind: boot.trial?.kind,
    attempted: boot.trial?.to,
    runs: boot.trial?.from,
  });
  const next: BootState = { format: 1, active: boot.previous ?? 'factory' };
  sys.writeBoot(next);
  rmSync(sys.snapshot, { force: true });
  log.warn({ reason, active: next.active }, 'rolled back to the previous software');
  return next;
}

/** GET /health over HTTPS, trusting exactly this appliance's certificate. */
function probeHealth(
  listen: { host: string; port: number },
  cert: string,
): Promise<{ productVersion: string; baseVersion: string } | undefined> {
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return new Promise((resolve) => {
    const req = https.get(
      {
        host,
        port: listen.port,
        path: '/health',
        ca: cert,
        checkServerIdentity: () => undefined,
        timeout: 2000,
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          try {
            const h = JSON.parse(body) as {
              ready?: boolean;
              productVersion: string;
              baseVersion: string;
            };
            resolve(res.statusCode === 200 && h.ready ? h : undefined);
          } catch {
            resolve(undefined);
          }
        });
      },
    );
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}
