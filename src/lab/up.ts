import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ApplianceClient } from '../clients/admin-client.js';

import {
  adminClient,
  configureSwitch,
  establishFailover,
  formCluster,
  pointAtUpdateServer,
  prepareSite,
} from './configure.js';
import { writeInventory } from './inventory.js';
import { checkNetnsPrerequisites } from './netns.js';
import { addressOf, planNetwork } from './network-plan.js';
import { ADDRESSES, planAppliances, SITE_HOSTNAME, type LabOptions } from './plan.js';
import { registerLab, sweepOrphanLabs } from './registry.js';
import { createSecrets, saveJumpClientToken } from './secrets.js';
import { NETNS_PORT, upInNamespaces } from './up-netns.js';
import { SITE_ZONE, startDnsServers } from './dns-netns.js';
import { stopGroups } from './spawn.js';
import {
  choosePorts,
  inBatches,
  initAppliances,
  startAgent,
  startAppliance,
  startNatForwarder,
  startUpdateServer,
} from './start.js';
import {
  groupAlive,
  readState,
  requireState,
  statsFile,
  writeState,
  type LabState,
} from './state.js';
import { labErrors } from './error-codes.js';

function refuseExisting(dir: string): void {
  const existing = readState(dir);
  if (existing?.processes.some((p) => groupAlive(p.pgid)))
    throw labErrors.LAB_RUNNING(
      `--dir ${dir}: a lab is already running there. Run \`gatehouse lab down --dir ${dir}\` first, or give another --dir.`,
      { fields: [{ field: '--dir', message: 'a lab runs there' }] },
    );
  if (existing || (existsSync(dir) && readdirSync(dir).length > 0))
    throw labErrors.LAB_DIR_NOT_EMPTY(
      `--dir ${dir}: the directory already holds ${existing ? 'a stopped lab' : 'other files'}. Run \`gatehouse lab down --dir ${dir} --purge\` to remove ${existing ? 'it' : 'a lab there'}, or give another --dir.`,
      { fields: [{ field: '--dir', message: 'is not empty' }] },
    );
}

/** Agent ready: every Jump Client connected and a first stats file written. */
function agentReady(state: LabState, jumpClients: number) {
  return async () => {
    try {
      const s = JSON.parse(readFileSync(statsFile(state.dir), 'utf8')) as {
        jumpClients: { connected: number };
      };
      return s.jumpClients.connected >= jumpClients;
    } catch {
      return false;
    }
  };
}

/**
 * `gatehouse lab up`: a whole deployment from embedded defaults, on loopback or (netns) each
 * host in its own network namespace. Every process it starts is recorded in DIR/lab.json as
 * soon as it has a pid, and every namespace before it is created, so a failure part-way stops
 * what was started and `lab down` can always clean up.
 */
export async function labUp(
  dirArg: string,
  o: LabOptions,
  log: (line: string) => void,
): Promise<LabState> {
  const dir = path.resolve(dirArg);
  // Refused before anything exists: no namespace, no directory.
  if (o.network === 'netns') checkNetnsPrerequisites(o.switchMethod);
  refuseExisting(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const plan = planAppliances(o);
  const state: LabState = {
    version: 1,
    dir,
    topology: o.topology,
    createdAt: new Date().toISOString(),
    state: 'starting',
    options: { trafficNodes: o.trafficNodes, regions: o.regions, jumpClients: o.jumpClients },
    labOptions: o,
    site: { hostname: SITE_HOSTNAME, host: ADDRESSES.primary, port: 0, switch: o.switchMethod },
    ...createSecrets(dir),
    appliances: [],
    processes: [],
    inventory: 'inventory.yaml',
  };
  if (o.network === 'netns') {
    // Namespaces are the machine's: labs nobody will stop (a killed test's) go first.
    for (const r of await sweepOrphanLabs())
      log(`removed the orphaned lab ${r.prefix}* (${r.why})`);
    state.network = planNetwork(plan, o.regions);
    // lab.json first: a record whose lab.json does not name it is an orphan's.
    writeState(state);
    registerLab(state.network.id, state.network.prefix, dir);
    return upInNamespaces(state, log);
  }
  writeState(state);
  return startLab(state, o, log);
}

/**
 * Start every process of a lab whose state (and, netns, network) exists: the update server,
 * the appliances, the switch, the agent. A netns lab runs this inside its admin namespace.
 */
export async function startLab(
  state: LabState,
  o: LabOptions,
  log: (line: string) => void,
): Promise<LabState> {
  const dir = state.dir;
  const net = state.network;
  const plan = planAppliances(o).map((a) => ({ ...a, host: addressOf(net, a.name, a.host) }));
  const started = (p: LabState['processes'][number]) => {
    state.processes.push(p);
    writeState(state);
  };
  const apis = new Map<string, ApplianceClient>();
  const t0 = Date.now();
  const step = (s: string) => log(`▸ ${s} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  try {
    step(`${o.topology}: ${plan.length} appliance(s) on ${plan[0]!.host}…, lab in ${dir}`);
    state.updateServer = await startUpdateServer(state, started);
    step(`update server ready at ${state.updateServer.url}`);
    if (net && o.switchMethod === 'dns') {
      await startDnsServers(state, plan[0]!.host, started);
      step(
        `DNS (BIND): ${SITE_ZONE} at ${addressOf(net, 'dns', '')}, caching resolver at ${addressOf(net, 'resolver', '')}`,
      );
    }
    await initAppliances(state, plan);
    step(`initialised ${plan.map((a) => a.name).join(', ')}`);
    const ports = net ? plan.map(() => NETNS_PORT) : await choosePorts(plan);
    state.appliances = await inBatches(
      plan.map((a, i) => ({ a, port: ports[i]! })),
      3,
      async ({ a, port }) => {
        const ready = await startAppliance(state, a, port, started);
        step(`${a.name} ready at ${ready.urls.login.replace(/\/login$/, '')}`);
        return ready;
      },
    );
    const primary = state.appliances[0]!;
    state.site.port = primary.port;
    state.site.host = primary.host;
    if (o.switchMethod === 'shared-ip') {
      state.site.host = net ? net.vip : ADDRESSES.site;
      state.site.sharedAddress = state.site.host;
    }
    if (net && o.switchMethod === 'nat') state.site.host = net.natAddress;
    if (net && o.switchMethod === 'dns') state.site.host = SITE_HOSTNAME;
    if (o.switchMethod === 'hosts-file') state.site.hostsFile = path.join(dir, 'hosts');
    if (o.switchMethod === 'nat-forwarder') {
      state.natForwarder = await startNatForwarder(state, primary.port, primary, started);
      state.site.host = ADDRESSES.site;
      step(`NAT forwarder on ${state.natForwarder.listen} → ${primary.name}`);
    }
    writeState(state);
    // Signed in side by side; a failure still leaves the others in `apis`, closed below.
    const signedIn = await Promise.allSettled(state.appliances.map((a) => adminClient(state, a)));
    signedIn.forEach((r, i) => {
      if (r.status === 'fulfilled') apis.set(state.appliances[i]!.name, r.value);
    });
    const failed = signedIn.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const primaryApi = apis.get(primary.name)!;
    await pointAtUpdateServer(state, apis);
    const { jumpClientToken } = await prepareSite(state, primaryApi);
    state.jumpClientTokenFile = saveJumpClientToken(dir, jumpClientToken);
    if (o.trafficNodes > 0) {
      await formCluster(state, primaryApi);
      step(`cluster formed: ${o.trafficNodes} traffic node(s) in ${o.regions} region(s)`);
    }
    if (state.appliances.some((a) => a.role === 'backup')) {
      await establishFailover(state, apis);
      step('failover established and synchronised');
    }
    await configureSwitch(state, apis);
    if (o.switchMethod !== 'none')
      step(`traffic switch (${o.switchMethod}) points at ${primary.name}`);
    await writeInventory(state);
    state.agent = {
      statsFile: path.basename(statsFile(dir)),
      sessionRate: o.sessionRate,
      longSessions: o.longSessions,
    };
    writeState(state);
    await startAgent(state, started, agentReady(state, o.jumpClients));
    step(`agent: ${o.jumpClients} Jump Client(s) connected, synthetic sessions running`);
    state.state = 'running';
    writeState(state);
    return state;
  } catch (e) {
    log(`lab up failed; stopping what it started (logs stay in ${path.join(dir, 'logs')})`);
    await stopGroups(state.processes).catch(() => undefined);
    state.state = 'failed';
    writeState(state);
    throw e;
  } finally {
    await Promise.all([...apis.values()].map((api) => api.close()));
  }
}

/** `lab start-inside`: the netns lab's processes, started from its admin namespace. */
export async function startLabInside(dirArg: string, log: (line: string) => void): Promise<void> {
  const state = requireState(path.resolve(dirArg));
  if (!state.network || !state.labOptions || state.state !== 'starting')
    throw labErrors.LAB_NOT_STARTING(
      `--dir ${dirArg}: no netns lab is starting there; \`gatehouse lab up --network netns\` runs this itself.`,
    );
  await startLab(state, state.labOptions, log);
}
