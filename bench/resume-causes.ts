/**
 * The causes `npm run bench -- resume` moves or breaks a session with, each measured the same
 * way: an interactive session (1 KiB echoed every 50 ms) through the event, and beside it the
 * anchor, the session restarted as an operator does without resumption.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { RepresentativeConsole } from '../src/clients/console.js';
import type { JumpClient } from '../src/clients/jump-client.js';
import { interactive } from '../src/lab/resume-load.js';
import { until } from '../src/shared/until.js';
import type { BenchAppliance } from './resume-deployments.js';

export type CauseName = 'kill' | 'install' | 'failover' | 'drain';

/** One run: the pause the resumable session saw beside the restart of a session. */
export interface CauseRun {
  pauseMs: number;
  restartMs: number;
  /** Echoes lost, wrong or out of order (goal 0). */
  lost: number;
  dropped: boolean;
}

export interface SessionClients {
  /** The console whose session resumes. */
  rep: RepresentativeConsole;
  /** A console of the previous release (no resumption): the anchor's restarted sessions. */
  plain: RepresentativeConsole;
  jump: JumpClient;
  echo: string;
}

/** Open a session, have 1 KiB echoed, end it: whether a session through the site works now. */
async function sessionWorks(c: SessionClients): Promise<boolean> {
  let socket: Duplex | undefined;
  try {
    socket = (await c.plain.openSession(c.jump.name!, c.echo)).socket;
    const s = socket;
    const data = Buffer.alloc(1024, 5);
    await new Promise<void>((resolve, reject) => {
      let got = 0;
      const timer = setTimeout(() => reject(new Error('no echo within 5 s')), 5_000);
      s.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got >= data.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      s.once('error', reject);
      s.write(data);
    });
    return true;
  } catch {
    return false;
  } finally {
    socket?.destroy();
  }
}

/**
 * One run of a cause: the resumable session's longest wait for an echo, beside the time from
 * the moment its leg broke until a new session through the site echoes (what restarting the
 * session costs at best). `event` moves or breaks the appliance relaying it.
 */
export async function measureRun(c: SessionClients, event: () => Promise<void>): Promise<CauseRun> {
  const { session, socket } = await c.rep.openSession(c.jump.name!, c.echo);
  let brokeAt: number | undefined;
  c.rep.log = (line) => {
    if (brokeAt === undefined && line.startsWith(`session ${session}: leg broke`))
      brokeAt = performance.now();
  };
  const echo = interactive(socket);
  try {
    await until(() => echo.rounds() > 5, 30_000, 'the echo to run');
    // Measured while the event goes on: the restart begins when the leg broke.
    const restarted = until(() => brokeAt, 180_000, "the session's leg to break").then(
      async (broke) => {
        await until(() => sessionWorks(c), 180_000, 'a new session through the site', 20);
        return performance.now() - broke;
      },
    );
    restarted.catch(() => undefined); // awaited below, after the event
    await event();
    const restartMs = await restarted;
    const at = echo.rounds();
    await until(
      () => echo.rounds() > at + 5 || echo.problems.length > 0,
      180_000,
      'the echo to go on',
    );
    return {
      pauseMs: echo.longestWaitMs(),
      restartMs,
      lost: echo.problems.filter((p) => p.includes('differs')).length,
      dropped: echo.problems.some((p) => p.startsWith('session failed')),
    };
  } finally {
    c.rep.log = undefined;
    echo.stop();
  }
}

/** kill: the lone appliance relaying the session SIGKILLed and started again. */
export const kill = (site: BenchAppliance) => () => site.crashAndRestart();

/**
 * install: a product package installed on the lone appliance relaying the session (the site
 * still leads there: the session pauses for the restart). `pkg` is a newer version each run.
 */
export function install(site: BenchAppliance, pkg: string, version: string) {
  return async () => {
    const up = await site.api.call<{ id: string }>('POST', '/api/appliance/updates/upload', {
      raw: readFileSync(pkg),
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (up.status !== 201) throw new Error(`upload refused: ${JSON.stringify(up.body)}`);
    await site.call('POST', `/api/appliance/updates/staged/${up.body.id}/install`, {}, 202);
    type Health = { productVersion: string; ready: boolean; update: string | null };
    await until(
      async () => {
        const h = (await site.api.call<Health>('GET', '/health')).body;
        return h.productVersion === version && h.ready && h.update === null;
      },
      180_000,
      `the install of ${version} to be committed`,
      50,
    );
  };
}

/** failover: Become Backup on the pair's primary; the other takes the role and the address. */
export function becomeBackup(primary: BenchAppliance, jump: JumpClient, other: BenchAppliance) {
  return async () => {
    await primary.call('POST', '/api/login/failover/become-backup', {}, 200);
    await until(() => jump.connectedTo === other.name, 60_000, `the Jump Client on ${other.name}`);
  };
}

/** drain: the traffic node relaying the session stops accepting new clients (S22). */
export function drain(primary: BenchAppliance, jump: JumpClient) {
  return async () => {
    const node = jump.connectedTo!;
    await primary.call('PATCH', `/api/login/cluster/nodes/${node}`, { accepting: false }, 200);
    await until(() => jump.connectedTo && jump.connectedTo !== node, 60_000, 'the move');
    const done = await primary.call<{ drained: boolean }>(
      'POST',
      `/api/login/cluster/nodes/${node}/wait-drained`,
      { timeoutSeconds: 30 },
      200,
    );
    if (!done.drained) throw new Error(`${node} did not drain within 30 s`);
    await primary.call('PATCH', `/api/login/cluster/nodes/${node}`, { accepting: true }, 200);
  };
}
