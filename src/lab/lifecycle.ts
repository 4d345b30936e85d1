import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { AgentStats } from './agent.js';
import { destroyNetwork } from './netns.js';
import { describeTraffic, nodeTraffic, type NodeTraffic } from './node-traffic.js';
import { unregisterLab } from './registry.js';
import { healthOf, stopGroups } from './spawn.js';
import {
  groupAlive,
  labUrl,
  requireState,
  statsFile,
  writeState,
  type LabProcess,
  type LabState,
} from './state.js';

export interface LabStatus {
  dir: string;
  topology: LabState['topology'];
  state: LabState['state'];
  allAlive: boolean;
  processes: (LabProcess & { alive: boolean })[];
  appliances: {
    name: string;
    address: string;
    expectedRole: string;
    health: { role: string; productVersion: string; ready: boolean } | null;
    /** A traffic node: accepting or draining, and its connected clients (null: no answer). */
    traffic?: NodeTraffic | null;
  }[];
  agent: (AgentStats & { ageSeconds: number }) | null;
  /** netns lab: each host's namespace and address. */
  hosts?: { name: string; ns: string; address: string; segment: string }[];
}

/** `gatehouse lab status`: each process alive?, each appliance's /health, the agent's counts. */
export async function labStatus(dirArg: string): Promise<LabStatus> {
  const state = requireState(path.resolve(dirArg));
  const processes = state.processes.map((p) => ({ ...p, alive: groupAlive(p.pgid) }));
  const appliances = await Promise.all(
    state.appliances.map(async (a) => {
      let cert: string | undefined;
      try {
        cert = readFileSync(path.join(a.dataDir, 'tls', 'cert.pem'), 'utf8');
      } catch {
        cert = undefined;
      }
      const h = cert
        ? await healthOf<{ role: string; productVersion: string; ready: boolean }>(
            labUrl(a.host, a.port),
            cert,
          )
        : undefined;
      return {
        name: a.name,
        address: `${a.host}:${a.port}`,
        expectedRole: a.role,
        health: h
          ? { role: h.body.role, productVersion: h.body.productVersion, ready: h.body.ready }
          : null,
        ...(a.role === 'traffic-node'
          ? { traffic: h ? ((await nodeTraffic(state, a)) ?? null) : null }
          : {}),
      };
    }),
  );
  let agent: LabStatus['agent'] = null;
  try {
    const s = JSON.parse(readFileSync(statsFile(state.dir), 'utf8')) as AgentStats;
    agent = { ...s, ageSeconds: Math.round((Date.now() - Date.parse(s.updatedAt)) / 100) / 10 };
  } catch {
    agent = null;
  }
  return {
    dir: state.dir,
    topology: state.topology,
    state: state.state,
    allAlive: processes.length > 0 && processes.every((p) => p.alive),
    processes,
    appliances,
    agent,
    ...(state.network
      ? {
          hosts: [
            {
              name: 'router',
              ns: state.network.routerNs,
              address: 'every segment .1',
              segment: '',
            },
            ...state.network.hosts.map(({ name, ns, address, segment }) => ({
              name,
              ns,
              address,
              segment,
            })),
          ],
        }
      : {}),
  };
}

export function formatStatus(s: LabStatus): string[] {
  const lines = [`Lab ${s.dir}: ${s.topology}, ${s.state}`];
  for (const h of s.hosts ?? [])
    lines.push(
      `  host ${h.name}: ${h.address}${h.segment ? ` on ${h.segment}` : ''} (netns ${h.ns})`,
    );
  for (const p of s.processes)
    lines.push(`  ${p.alive ? 'running' : 'STOPPED'}  ${p.name} (pid ${p.pid})`);
  for (const a of s.appliances)
    lines.push(
      `  ${a.name} at ${a.address}: ${a.health ? `${a.health.role}, ${a.health.productVersion}${a.health.ready ? '' : ', not ready'}` : 'not answering'}${a.expectedRole === 'traffic-node' ? ` (traffic node${a.traffic ? `; ${describeTraffic(a.traffic)}` : ''})` : ''}`,
    );
  if (s.agent) {
    const x = s.agent.sessions;
    lines.push(
      `  agent: ${s.agent.jumpClients.connected}/${s.agent.jumpClients.total} Jump Clients connected; sessions ${x.started} started, ${x.completed} completed, ${x.failed} failed (${x.long.dropped} long-lived dropped); updated ${s.agent.ageSeconds} s ago`,
    );
  } else lines.push('  agent: no statistics yet');
  return lines;
}

/**
 * `gatehouse lab down`: stop every process the lab started (the agent first, so its sessions
 * end before the appliances do), SIGKILL what outlives the deadline. Data stays unless purge.
 */
export async function labDown(
  dirArg: string,
  opts: { purge: boolean; graceMs?: number },
): Promise<{ stopped: string[]; killed: string[]; purged: boolean; namespaces: string[] }> {
  const state = requireState(path.resolve(dirArg));
  const order: LabProcess['kind'][] = [
    'agent',
    'nat-forwarder',
    'appliance',
    'update-server',
    'dns-server',
    'delayer',
  ];
  const killed: string[] = [];
  for (const kind of order)
    killed.push(
      ...(await stopGroups(
        state.processes.filter((p) => p.kind === kind),
        opts.graceMs ?? 15_000,
      )),
    );
  const namespaces = state.network ? await destroyNetwork(state.network) : [];
  if (state.network) unregisterLab(state.network.id);
  if (opts.purge) rmSync(state.dir, { recursive: true, force: true });
  else {
    state.state = 'stopped';
    writeState(state);
  }
  return {
    stopped: state.processes.map((p) => p.name),
    killed,
    purged: opts.purge,
    namespaces,
  };
}
