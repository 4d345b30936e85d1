import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ApplianceClient } from '../clients/admin-client.js';

import { until } from '../shared/until.js';
import { nsExec } from './netns.js';
import { GATEHOUSE_BIN } from './processes.js';
import { groupAlive, type LabProcess } from './state.js';
import { labErrors } from './error-codes.js';

/**
 * Start `gatehouse ARGS` detached in its own process group with its output in a log file, so it
 * outlives `lab up` and `lab down` can stop the whole group. Resolves once it has a pid.
 */
export function spawnDaemon(
  name: string,
  kind: LabProcess['kind'],
  args: string[],
  logFile: string,
  /** netns lab: the namespace to run it in (`ip netns exec` execs it: the pid stays). */
  ns?: string,
) {
  const argv = [process.execPath, GATEHOUSE_BIN, ...args];
  return spawnProgram(name, kind, ns ? nsExec(ns, argv) : argv, logFile);
}

/** Start any program the way `spawnDaemon` starts gatehouse (own group, output to a log). */
export function spawnProgram(
  name: string,
  kind: LabProcess['kind'],
  argv: string[],
  logFile: string,
): { proc: LabProcess; exited: () => number | null | undefined } {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a', 0o600);
  let exitCode: number | null | undefined;
  try {
    const [file, ...rest] = argv;
    const child = spawn(file!, rest, { detached: true, stdio: ['ignore', fd, fd] });
    child.once('exit', (code) => (exitCode = code));
    child.unref();
    if (!child.pid) throw labErrors.LAB_SPAWN_FAILED(`${name} could not be started.`);
    return {
      proc: { name, kind, pid: child.pid, pgid: child.pid, log: logFile },
      exited: () => exitCode,
    };
  } finally {
    closeSync(fd);
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '(no output)';
  }
}

/** Wait with a deadline for a started process to pass `ready`; an exit fails at once. */
export async function waitReady(
  started: ReturnType<typeof spawnDaemon>,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const { proc } = started;
  const state = await until(
    async () => (started.exited() !== undefined ? 'exited' : (await ready()) ? 'ready' : false),
    timeoutMs,
    `${proc.name} to be ready (log: ${proc.log})`,
    50,
  ).catch((e: Error) => {
    throw labErrors.LAB_START_FAILED(`${e.message}\n${tail(proc.log)}`);
  });
  if (state === 'exited')
    throw labErrors.LAB_START_FAILED(
      `${proc.name} exited with code ${started.exited()} while starting (log: ${proc.log}):\n${tail(proc.log)}`,
    );
}

/** /health of a server whose data directory has tls/cert.pem, certificate pinned. */
export async function healthOf<T>(
  url: string,
  certPem: string,
): Promise<{ status: number; body: T } | undefined> {
  const client = new ApplianceClient(url, { certPem }, { connections: 1 });
  try {
    return await client.call<T>('GET', '/health');
  } catch {
    return undefined;
  } finally {
    await client.close();
  }
}

/**
 * Stop process groups: SIGTERM to each, then SIGKILL to any still there after the deadline.
 * Resolves once every group is gone; returns those that had to be killed.
 */
export async function stopGroups(procs: LabProcess[], graceMs = 15_000): Promise<string[]> {
  const signal = (p: LabProcess, s: NodeJS.Signals) => {
    try {
      process.kill(-p.pgid, s);
    } catch {
      // Already gone.
    }
  };
  const alive = () => procs.filter((p) => groupAlive(p.pgid));
  for (const p of alive()) signal(p, 'SIGTERM');
  const killed: string[] = [];
  try {
    await until(() => alive().length === 0, graceMs, 'the lab processes to stop', 50);
  } catch {
    for (const p of alive()) {
      killed.push(p.name);
      signal(p, 'SIGKILL');
    }
    await until(() => alive().length === 0, 10_000, 'the lab processes to be killed', 50);
  }
  return killed;
}
