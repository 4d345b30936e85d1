import { randomBytes } from 'node:crypto';

export const NETWORKS = ['loopback', 'netns'] as const;
export type NetworkMode = (typeof NETWORKS)[number];

/** A LAN segment: one Linux bridge in the lab's bridge namespace, one leg of the router. */
export interface LabSegment {
  name: string;
  bridge: string;
  /** The segment's /24 in 198.18.0.0/15 (RFC 2544, reserved for benchmarking). */
  cidr: string;
  /** The router's address on the segment: every host's default gateway. */
  router: string;
  /** The router's interface on the segment, inside the router namespace. */
  routerIface: string;
}

/** One host of the lab: its own network namespace, one interface (eth0) on one segment. */
export interface LabHost {
  name: string;
  ns: string;
  address: string;
  segment: string;
  /** The veth end of eth0 inside the bridge namespace, the port of the segment's bridge. */
  port: string;
}

/** A fault injected by `lab fault`, kept in lab.json so a report can put it on a timeline. */
export interface FaultRecord {
  at: string;
  fault: string;
  args: string[];
  /** nftables tables (family name@namespace) or signalled groups it made, for `heal`. */
  detail?: string;
}

/** DIR/lab.json `network` in netns mode: what `lab up` creates, written before it creates it. */
export interface LabNetwork {
  mode: 'netns';
  id: string;
  /** Every namespace name starts with it: `gh-<id>-`. */
  prefix: string;
  bridgesNs: string;
  routerNs: string;
  /** Every namespace `lab up` creates (recorded before the first is created). */
  namespaces: string[];
  /** Per-namespace /etc files (`/etc/netns/NS`), recorded before they are written. */
  etcDirs: string[];
  segments: LabSegment[];
  hosts: LabHost[];
  /** The shared IP (VIP) on region-1, and the public address the router NATs. */
  vip: string;
  natAddress: string;
  faults: FaultRecord[];
}

export const OUTSIDE = 'out';
/** Hosts outside the site (the clients' side of the router), and their last octet. */
const OUTSIDE_HOSTS: [string, number][] = [
  ['admin', 2],
  ['agent', 3],
  ['prober', 4],
  ['updates', 5],
  ['client', 6],
  ['dns', 53],
  // The site's recursive resolver: it caches answers for their TTL, as a real site's does.
  ['resolver', 54],
];
const PRIMARY_OCTET = 11;
const BACKUP_OCTET = 12;
const FIRST_NODE_OCTET = 21;

const segmentOf = (name: string, third: number): LabSegment => {
  const short = name === OUTSIDE ? OUTSIDE : `r${name.replace(/^region-/, '')}`;
  return {
    name,
    bridge: `br-${short}`,
    cidr: `198.18.${third}.0/24`,
    router: `198.18.${third}.1`,
    routerIface: short,
  };
};

/**
 * The addresses of a netns lab: the outside segment 198.18.0.0/24 (admin, agent, prober,
 * update server, DNS; the NAT's public address .10), region k on 198.18.k.0/24 (the shared IP
 * .10, primary .11, backup .12, traffic nodes .21 + i in their region). A topology without
 * regions has its appliances on region-1.
 */
export function planNetwork(
  appliances: { name: string; role: string; region?: string }[],
  regions: number,
  id = randomBytes(3).toString('hex'),
): LabNetwork {
  const prefix = `gh-${id}-`;
  const segments = [segmentOf(OUTSIDE, 0)];
  for (let k = 1; k <= Math.max(1, regions); k++) segments.push(segmentOf(`region-${k}`, k));
  const hosts: LabHost[] = [];
  const add = (name: string, segment: string, octet: number) => {
    const seg = segments.find((s) => s.name === segment)!;
    hosts.push({
      name,
      ns: `${prefix}${name}`,
      address: seg.cidr.replace(/0\/24$/, String(octet)),
      segment,
      port: `v${hosts.length}`,
    });
  };
  for (const [name, octet] of OUTSIDE_HOSTS) add(name, OUTSIDE, octet);
  let node = 0;
  for (const a of appliances) {
    if (a.role === 'traffic-node') add(a.name, a.region ?? 'region-1', FIRST_NODE_OCTET + node++);
    else add(a.name, 'region-1', a.role === 'backup' ? BACKUP_OCTET : PRIMARY_OCTET);
  }
  const bridgesNs = `${prefix}net`;
  const routerNs = `${prefix}router`;
  return {
    mode: 'netns',
    id,
    prefix,
    bridgesNs,
    routerNs,
    namespaces: [bridgesNs, routerNs, ...hosts.map((h) => h.ns)],
    etcDirs: [],
    segments,
    hosts,
    vip: '198.18.1.10',
    natAddress: '198.18.0.10',
    faults: [],
  };
}

export function hostOf(net: LabNetwork, name: string): LabHost | undefined {
  return net.hosts.find((h) => h.name === name);
}

/** Where a lab process runs: its host's namespace in a netns lab, else nowhere special. */
export const nsOf = (net: LabNetwork | undefined, name: string): string | undefined =>
  net ? hostOf(net, name)?.ns : undefined;

/** A host's address in a netns lab, else the loopback address given. */
export const addressOf = (net: LabNetwork | undefined, name: string, loopback: string): string =>
  (net && hostOf(net, name)?.address) || loopback;
