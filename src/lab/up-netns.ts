import path from 'node:path';

import { createNetwork, destroyNetwork, runIn } from './netns.js';
import { hostOf } from './network-plan.js';
import { unregisterLab } from './registry.js';
import { GATEHOUSE_BIN } from './processes.js';
import { stopGroups } from './spawn.js';
import { prepareSwitch } from './switch-netns.js';
import { readState, requireState, writeState, type LabState } from './state.js';
import { labErrors } from './error-codes.js';

/** Set in the commands a netns lab runs in its admin namespace: they are there already. */
const INSIDE = 'GATEHOUSE_LAB_INSIDE';

/**
 * A command that talks to the lab's servers (status, publish-next) run from the host of a
 * netns lab goes on inside the admin namespace, where they are reachable: true when it did.
 */
export async function rerunInAdmin(
  dir: string,
  args: string[],
  log: (line: string) => void,
): Promise<boolean> {
  if (process.env[INSIDE] === '1') return false;
  const state = readState(path.resolve(dir));
  if (!state?.network) return false;
  await gatehouseInAdmin(state, args, log);
  return true;
}

/** Every host of a netns lab has its own address: each server listens on the HTTPS port. */
export const NETNS_PORT = 443;

/**
 * Run `gatehouse ARGS` inside the lab's admin namespace (where the appliances' addresses are
 * reachable through the router), its output lines to `log`; fails with its error output.
 */
export function gatehouseInAdmin(
  state: LabState,
  args: string[],
  log: (line: string) => void,
): Promise<void> {
  const admin = hostOf(state.network!, 'admin')!;
  return runIn(admin.ns, [process.execPath, GATEHOUSE_BIN, ...args], {
    line: log,
    env: { ...process.env, [INSIDE]: '1' },
    fail: (code, stderr) =>
      labErrors.LAB_START_FAILED(
        `gatehouse ${args.slice(0, 2).join(' ')} in ${admin.ns} exited with ${code}: ${stderr}`,
      ),
  });
}

/**
 * `lab up --network netns`: create the namespaces (recorded in lab.json already), then start
 * the lab from inside the admin namespace. A failure stops every process and removes every
 * namespace; lab.json (state `failed`) and the logs stay.
 */
export async function upInNamespaces(
  state: LabState,
  log: (line: string) => void,
): Promise<LabState> {
  const net = state.network!;
  try {
    await createNetwork(net);
    await prepareSwitch(state);
    log(
      `▸ network: ${net.namespaces.length} namespaces ${net.prefix}*, ${net.segments.map((s) => `${s.name} ${s.cidr}`).join(', ')}`,
    );
    await gatehouseInAdmin(state, ['lab', 'start-inside', '--dir', state.dir], log);
    return requireState(state.dir);
  } catch (e) {
    log('lab up failed; stopping its processes and removing its namespaces (logs stay)');
    const now = readState(state.dir) ?? state;
    await stopGroups(now.processes).catch(() => undefined);
    await destroyNetwork(net).catch(() => undefined);
    unregisterLab(net.id);
    now.state = 'failed';
    writeState(now);
    throw e;
  }
}
