import { NETWORKS, type NetworkMode } from './network-plan.js';
import { labErrors } from './error-codes.js';

export const TOPOLOGIES = ['standalone', 'pair', 'cluster', 'cluster-failover'] as const;
export type Topology = (typeof TOPOLOGIES)[number];
export const SWITCHES = ['shared-ip', 'hosts-file', 'nat-forwarder', 'nat', 'dns', 'none'] as const;
export type SwitchMethod = (typeof SWITCHES)[number];

/** The lab's loopback block: 127.0.1.x, which no test of this repository uses. */
export const LAB_NET = '127.0.1';
export const ADDRESSES = {
  updateServer: `${LAB_NET}.1`,
  targets: `${LAB_NET}.2`,
  /** The site's address when a switch method gives it one (shared IP, NAT forwarder). */
  site: `${LAB_NET}.10`,
  primary: `${LAB_NET}.11`,
  backup: `${LAB_NET}.12`,
  /** Traffic node i (0-based) is .21 + i. */
  firstNode: 21,
};
export const SITE_HOSTNAME = 'support.lab.gatehouse.test';
const MAX_NODES = 60;

export interface LabOptions {
  topology: Topology;
  /** loopback (default, no root) or netns (a namespace per host, real VIP, NAT and DNS). */
  network: NetworkMode;
  trafficNodes: number;
  regions: number;
  switchMethod: SwitchMethod;
  jumpClients: number;
  /** New short synthetic sessions per second (0 stops them). */
  sessionRate: number;
  /** Long-lived synthetic sessions kept open. */
  longSessions: number;
}

export type PlannedRole = 'standalone' | 'primary' | 'backup' | 'traffic-node';

export interface PlannedAppliance {
  name: string;
  /** What the lab makes it: the role /health reports, or traffic-node. */
  role: PlannedRole;
  host: string;
  region?: string;
  /** Appliances that share the site's address listen on the same port. */
  sharesPort: boolean;
}

const badInput = (flag: string, message: string) =>
  labErrors.LAB_BAD_OPTION(`${flag}: ${message}`, {
    fields: [{ field: flag, message }],
  });

function count(flag: string, raw: string | undefined, fallback: number, min: number, max: number) {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < min || n > max)
    throw badInput(flag, `"${raw}" is not a whole number from ${min} to ${max}.`);
  return n;
}

const isCluster = (t: Topology) => t === 'cluster' || t === 'cluster-failover';
const hasPair = (t: Topology) => t === 'pair' || t === 'cluster-failover';

/** Validate the options of `lab up` (as the CLI gives them, strings); every error names its flag. */
export function parseLabOptions(raw: {
  topology?: string;
  trafficNodes?: string;
  regions?: string;
  switch?: string;
  jumpClients?: string;
  sessionRate?: string;
  longSessions?: string;
  network?: string;
}): LabOptions {
  const network = (raw.network ?? 'loopback') as NetworkMode;
  if (!NETWORKS.includes(network))
    throw badInput('--network', `"${raw.network}" is not a network; use ${NETWORKS.join(', ')}.`);
  const topology = (raw.topology ?? 'standalone') as Topology;
  if (!TOPOLOGIES.includes(topology))
    throw badInput(
      '--topology',
      `"${raw.topology}" is not a topology; use ${TOPOLOGIES.join(', ')}.`,
    );
  const cluster = isCluster(topology);
  if (!cluster && (raw.trafficNodes !== undefined || raw.regions !== undefined))
    throw badInput(
      raw.trafficNodes !== undefined ? '--traffic-nodes' : '--regions',
      `only a cluster has traffic nodes and regions; use --topology cluster or cluster-failover.`,
    );
  const trafficNodes = cluster ? count('--traffic-nodes', raw.trafficNodes, 4, 1, MAX_NODES) : 0;
  const regions = cluster ? count('--regions', raw.regions, 2, 1, MAX_NODES) : 0;
  if (regions > trafficNodes)
    throw badInput(
      '--regions',
      `${regions} regions need at least ${regions} traffic nodes (--traffic-nodes ${trafficNodes}).`,
    );
  const switchMethod = (raw.switch ?? (hasPair(topology) ? 'shared-ip' : 'none')) as SwitchMethod;
  if (!SWITCHES.includes(switchMethod))
    throw badInput('--switch', `"${raw.switch}" is not a method; use ${SWITCHES.join(', ')}.`);
  if ((switchMethod === 'nat' || switchMethod === 'dns') && network !== 'netns')
    throw badInput(
      '--switch',
      `${switchMethod} needs the real network: add --network netns (or use nat-forwarder or hosts-file on loopback).`,
    );
  if (switchMethod === 'nat-forwarder' && network === 'netns')
    throw badInput('--switch', 'the netns lab swings NAT in its router: use --switch nat.');
  const jumpClients = count('--jump-clients', raw.jumpClients, Math.max(2, regions), 0, 50);
  let sessionRate = 1;
  if (raw.sessionRate !== undefined) {
    sessionRate = Number(raw.sessionRate);
    if (!Number.isFinite(sessionRate) || sessionRate < 0 || sessionRate > 50)
      throw badInput(
        '--session-rate',
        `"${raw.sessionRate}" is not a rate from 0 to 50 new sessions per second.`,
      );
  }
  const longSessions = count('--long-sessions', raw.longSessions, 2, 0, 50);
  if (jumpClients === 0 && (sessionRate > 0 || longSessions > 0))
    throw badInput(
      '--jump-clients',
      'synthetic sessions need a Jump Client; give at least 1, or --session-rate 0 --long-sessions 0.',
    );
  return {
    topology,
    network,
    trafficNodes,
    regions,
    switchMethod,
    jumpClients,
    sessionRate,
    longSessions,
  };
}

export const regionName = (i: number) => `region-${i + 1}`;

/** The appliances of a topology: names, roles, loopback addresses and regions. */
export function planAppliances(o: LabOptions): PlannedAppliance[] {
  const pair = hasPair(o.topology);
  const shared = pair || o.switchMethod === 'shared-ip';
  const first = isCluster(o.topology) ? 'primary-node' : 'appliance-a';
  const list: PlannedAppliance[] = [
    {
      name: first,
      role: pair ? 'primary' : 'standalone',
      host: ADDRESSES.primary,
      sharesPort: shared,
    },
  ];
  if (pair)
    list.push({
      name: isCluster(o.topology) ? 'backup-primary-node' : 'appliance-b',
      role: 'backup',
      host: ADDRESSES.backup,
      sharesPort: true,
    });
  for (let i = 0; i < o.trafficNodes; i++)
    list.push({
      name: `traffic-node-${i + 1}`,
      role: 'traffic-node',
      host: `${LAB_NET}.${ADDRESSES.firstNode + i}`,
      region: regionName(i % o.regions),
      sharesPort: false,
    });
  return list;
}

/** Region of Jump Client i (clusters spread them over the regions; others have none). */
export const jumpClientRegion = (o: { regions: number }, i: number) =>
  o.regions > 0 ? regionName(i % o.regions) : undefined;
