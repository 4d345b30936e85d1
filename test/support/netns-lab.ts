import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { labDown } from '../../src/lab/lifecycle.js';
import { sweepNamespaces } from '../../src/lab/netns.js';
import { OWNER_ENV, sweepOrphanLabs } from '../../src/lab/registry.js';
import { GATEHOUSE_BIN } from '../../src/lab/processes.js';
import { readState, type LabState } from '../../src/lab/state.js';
import { tempDir } from './appliance.js';

const exec = promisify(execFile);

/** `gatehouse ARGS` as a real process: exit code and output, never throws. */
export async function gatehouse(args: string[], timeoutMs = 240_000, env = process.env) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [GATEHOUSE_BIN, ...args], {
      timeout: timeoutMs,
      maxBuffer: 8 << 20,
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** What `ip netns list` and `ip link` show on the host: a lab must leave both as it found them. */
export async function hostNetwork(): Promise<{ netns: string[]; links: string[] }> {
  const netns = (await exec('ip', ['netns', 'list'])).stdout;
  const links = (await exec('ip', ['-o', 'link'])).stdout;
  return {
    netns: netns.split('\n').filter(Boolean).sort(),
    // Counters and the like change; names, flags and addresses must not.
    links: links
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/\s+/g, ' ').trim())
      .sort(),
  };
}

/**
 * The host is as before: the same links, none of the lab's prefix, every namespace it had but
 * other labs (other tests of this machine make their own; a lab up sweeps orphaned ones).
 */
export async function expectHostAsBefore(
  before: Awaited<ReturnType<typeof hostNetwork>>,
  prefix: string,
): Promise<void> {
  const now = await hostNetwork();
  expect(now.links).toEqual(before.links);
  expect(now.netns.filter((n) => n.startsWith(prefix))).toEqual([]);
  const lab = /^gh-[0-9a-f]{6}-/;
  expect(before.netns.filter((n) => !lab.test(n) && !now.netns.includes(n))).toEqual([]);
}

export interface NetnsLab {
  dir: string;
  state: () => LabState;
  /** `gatehouse lab exec HOST -- ARGV…` (a leading `gatehouse` is this tree's). */
  exec: (host: string, argv: string[], timeoutMs?: number) => ReturnType<typeof gatehouse>;
  /** `lab down --purge`, then a sweep of the lab's namespace prefix; safe to call twice. */
  down: () => Promise<void>;
}

/** The lab belongs to this test process: if it is killed, the next lab up sweeps the lab. */
export const ownedByThisTest = () => ({ ...process.env, [OWNER_ENV]: String(process.pid) });

/**
 * Start a netns lab (`lab up --network netns ARGS`) as a real process owned by this test
 * process, after sweeping the labs of killed tests; fails with its output. Call `down()` in
 * afterAll: it stops every process and removes every namespace even when the test failed
 * half-way (and when `lab up` itself failed).
 */
export async function upNetnsLab(args: string[]): Promise<NetnsLab> {
  const dir = path.join(tempDir('gh-netns-'), 'lab');
  const lab: NetnsLab = {
    dir,
    state: () => readState(dir)!,
    exec: (host, argv, timeoutMs) =>
      gatehouse(['lab', 'exec', host, '--dir', dir, '--', ...argv], timeoutMs),
    down: () => downNetnsLab(dir),
  };
  await sweepOrphanLabs();
  const up = await gatehouse(
    ['lab', 'up', '--network', 'netns', '--dir', dir, ...args],
    240_000,
    ownedByThisTest(),
  );
  if (up.code !== 0) {
    await lab.down();
    throw new Error(`lab up failed (${up.code}):\n${up.stdout}\n${up.stderr}`);
  }
  return lab;
}

/** Stop a lab in DIR (if any) and sweep its namespaces; nothing of it is left on the host. */
export async function downNetnsLab(dir: string): Promise<void> {
  const state = readState(dir);
  if (!state) return;
  await labDown(dir, { purge: false, graceMs: 5_000 }).catch(() => undefined);
  if (state.network) await sweepNamespaces(state.network.prefix);
}

/** Start `lab up` in the background (its own process group, so the test can kill it all). */
export function spawnLabUp(dir: string, args: string[], env = ownedByThisTest()) {
  return spawn(
    process.execPath,
    [GATEHOUSE_BIN, 'lab', 'up', '--network', 'netns', '--dir', dir, ...args],
    { detached: true, stdio: 'ignore', env },
  );
}
