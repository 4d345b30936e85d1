import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { CODE_ROOT } from '../shared/version.js';
import { until } from '../shared/until.js';
import { nftIn, nsExec, onPath, sh } from './netns.js';
import { hostOf, type FaultRecord, type LabNetwork } from './network-plan.js';
import { spawnProgram, stopGroups, waitReady } from './spawn.js';
import { groupAlive, requireState, writeState, type LabProcess } from './state.js';
import { labErrors } from './error-codes.js';

const TABLE = 'gatehouse_fault';
const DELAYER = path.join(CODE_ROOT, 'scripts', 'lab-delayer.py');
/** NFQUEUE numbers of the delayers: 100 + the segment's index. */
const QUEUE_BASE = 100;

type Endpoint =
  | { kind: 'host'; ns: string; match: string }
  | { kind: 'segment'; iface: string; match: string; index: number };

const bad = (field: string, message: string) =>
  labErrors.LAB_BAD_FAULT(`${field}: ${message}`, {
    fields: [{ field, message }],
  });

function endpoint(net: LabNetwork, name: string, field: string): Endpoint {
  const h = hostOf(net, name);
  if (h) return { kind: 'host', ns: h.ns, match: h.address };
  const index = net.segments.findIndex((s) => s.name === name);
  if (index >= 0) {
    const s = net.segments[index]!;
    return { kind: 'segment', iface: s.routerIface, match: s.cidr, index };
  }
  throw bad(
    field,
    `"${name}" is neither a host (${net.hosts.map((x) => x.name).join(', ')}) nor a segment (${net.segments.map((s) => s.name).join(', ')}).`,
  );
}

function segment(net: LabNetwork, name: string, field: string) {
  const e = endpoint(net, name, field);
  if (e.kind !== 'segment')
    throw bad(field, `give a region (segment): ${net.segments.map((s) => s.name).join(', ')}.`);
  return e;
}

/** The fault table of a namespace: filter chains before everything else, accepting by default. */
const table = (chains: ('input' | 'output' | 'forward')[], rules: string[]) =>
  [
    `table inet ${TABLE} {`,
    ...chains.map((c) => `  chain ${c} { type filter hook ${c} priority -10; policy accept; }`),
    '}',
    ...rules.map((r) => `add rule inet ${TABLE} ${r}`),
    '',
  ].join('\n');

function parseAmount(raw: string, unit: 'ms' | '%', min: number, max: number, field: string) {
  const m = new RegExp(`^(\\d+(?:\\.\\d+)?)${unit === '%' ? '%' : 'ms'}?$`).exec(raw.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!(n >= min && n <= max))
    throw bad(
      field,
      `"${raw}" is not ${unit === '%' ? 'a loss from 0.01% to 100%' : `a delay from ${min} ms to ${max} ms`}, e.g. ${unit === '%' ? '5%' : '80ms'}.`,
    );
  return n;
}

/**
 * Faults of a netns lab (`gatehouse lab fault …`), for tests and operators alike. Network
 * faults are nftables rules in the lab's own namespaces (a host's own table for its
 * partitions and isolation, the router's for a region's), so `heal` deletes one table per
 * namespace; latency is a delayer (scripts/lab-delayer.py) on an NFQUEUE in the router.
 * Every fault is logged with its time in lab.json (`network.faults`).
 */
export class LabFaults {
  constructor(readonly dir: string) {}

  private get state() {
    const s = requireState(path.resolve(this.dir));
    if (!s.network)
      throw labErrors.LAB_NOT_NETNS(
        `--dir ${this.dir}: faults need a netns lab (\`gatehouse lab up --network netns\`).`,
      );
    return s as typeof s & { network: LabNetwork };
  }

  private record(fault: string, args: string[], detail?: string): FaultRecord {
    const s = this.state;
    const r: FaultRecord = {
      at: new Date().toISOString(),
      fault,
      args,
      ...(detail ? { detail } : {}),
    };
    s.network.faults.push(r);
    writeState(s);
    return r;
  }

  /** No traffic between A and B, both ways (hosts, or regions at the router). */
  async partition(a: string, b: string): Promise<FaultRecord> {
    const net = this.state.network;
    const [x, y] = [endpoint(net, a, 'A'), endpoint(net, b, 'B')];
    if (x.kind === 'segment' && y.kind === 'segment') {
      const rules = [
        `forward iifname "${x.iface}" oifname "${y.iface}" drop`,
        `forward iifname "${y.iface}" oifname "${x.iface}" drop`,
      ];
      await nftIn(net.routerNs, table(['forward'], rules));
    } else
      for (const [from, to] of [
        [x, y],
        [y, x],
      ] as const)
        if (from.kind === 'host')
          await nftIn(
            from.ns,
            table(
              ['input', 'output'],
              [`input ip saddr ${to.match} drop`, `output ip daddr ${to.match} drop`],
            ),
          );
    return this.record('partition', [a, b]);
  }

  /** A host (or a whole region, at the router) reaches nothing and nothing reaches it. */
  async isolate(a: string): Promise<FaultRecord> {
    const net = this.state.network;
    const x = endpoint(net, a, 'A');
    if (x.kind === 'host')
      await nftIn(
        x.ns,
        table(['input', 'output'], ['input iifname "eth0" drop', 'output oifname "eth0" drop']),
      );
    else
      await nftIn(
        net.routerNs,
        table(
          ['forward'],
          [`forward iifname "${x.iface}" drop`, `forward oifname "${x.iface}" drop`],
        ),
      );
    return this.record('isolate', [a]);
  }

  /** Drop this share of the packets entering or leaving a region through the router. */
  async loss(region: string, percent: string | number): Promise<FaultRecord> {
    const net = this.state.network;
    const seg = segment(net, region, 'REGION');
    const p = parseAmount(
      String(percent).replace(/^(\d+(\.\d+)?)$/, '$1%'),
      '%',
      0.01,
      100,
      'PERCENT',
    );
    const n = Math.round(p * 100);
    await nftIn(
      net.routerNs,
      table(
        ['forward'],
        ['iifname', 'oifname'].map(
          // numgen's values are 0 to 9999: 100 % is a plain drop.
          (dir) =>
            `forward ${dir} "${seg.iface}" ${n < 10_000 ? `numgen random mod 10000 < ${n} ` : ''}drop`,
        ),
      ),
    );
    return this.record('loss', [region, `${p}%`]);
  }

  /**
   * Delay every packet entering or leaving a region through the router by MS (once, even if
   * both regions it crosses are delayed): netem is not in every kernel, so the router queues
   * them (iptables' NFQUEUE target, nftables' own queue is not in every kernel either) to a
   * delayer that gives each its verdict MS later.
   */
  async latency(region: string, ms: string | number): Promise<FaultRecord> {
    const state = this.state;
    const net = state.network;
    const seg = segment(net, region, 'REGION');
    const delay = parseAmount(String(ms), 'ms', 1, 10_000, 'DELAY');
    const name = `delayer-${region}`;
    if (state.processes.some((p) => p.name === name && groupAlive(p.pgid)))
      throw bad('REGION', `${region} already has a latency; \`lab fault heal\` first.`);
    if (!existsSync(DELAYER)) throw bad('DELAY', `${DELAYER} is missing from this code tree.`);
    const missing = ['python3', 'iptables-nft'].filter((t) => !onPath(t));
    if (missing.length)
      throw labErrors.LAB_NETNS_UNAVAILABLE(
        `latency needs ${missing.join(' and ')}: install the Debian package(s) ${missing.map((t) => (t === 'python3' ? 'python3' : 'iptables')).join(' ')} (or scripts/install-test-deps.sh).`,
      );
    const queue = String(QUEUE_BASE + seg.index);
    const log = path.join(state.dir, 'logs', `${name}.log`);
    const argv = nsExec(net.routerNs, [
      'python3',
      DELAYER,
      '--queue',
      queue,
      '--delay-ms',
      String(delay),
    ]);
    const daemon = spawnProgram(name, 'delayer', argv, log);
    state.processes.push(daemon.proc);
    writeState(state);
    await waitReady(daemon, async () => readFileSync(log, 'utf8').includes('ready'), 15_000);
    for (const dir of ['-i', '-o'])
      await sh(
        'ip',
        [
          ...nsExec(net.routerNs, [
            'iptables-nft',
            '-t',
            'mangle',
            '-A',
            'FORWARD',
            dir,
            seg.iface,
          ]),
          ...['-j', 'NFQUEUE', '--queue-num', queue, '--queue-bypass'],
        ].slice(1),
      );
    return this.record('latency', [region, `${delay}ms`]);
  }

  /** Remove every network fault (and with `all`, thaw every frozen process). */
  async heal(opts: { all?: boolean } = {}): Promise<FaultRecord> {
    const state = this.state;
    const net = state.network;
    for (const ns of [net.routerNs, ...net.hosts.map((h) => h.ns)])
      await sh('ip', nsExec(ns, ['nft', 'delete', 'table', 'inet', TABLE]).slice(1)).catch(
        () => undefined,
      );
    await sh(
      'ip',
      nsExec(net.routerNs, ['iptables-nft', '-t', 'mangle', '-F', 'FORWARD']).slice(1),
    ).catch(() => undefined);
    await stopGroups(
      state.processes.filter((p) => p.kind === 'delayer'),
      5_000,
    );
    if (opts.all) for (const p of state.processes) signal(p, 'SIGCONT');
    return this.record('heal', opts.all ? ['all'] : []);
  }

  /** SIGKILL a lab process (an appliance: supervisor and worker); resolves once it is gone. */
  async kill(name: string): Promise<FaultRecord> {
    const p = this.process(name);
    signal(p, 'SIGKILL');
    await until(() => !groupAlive(p.pgid), 10_000, `${name} to die`, 20);
    return this.record('kill', [name]);
  }

  /** SIGSTOP a lab process: it keeps its sockets and answers nothing until thawed. */
  async freeze(name: string): Promise<FaultRecord> {
    signal(this.process(name), 'SIGSTOP');
    return this.record('freeze', [name]);
  }

  async thaw(name: string): Promise<FaultRecord> {
    signal(this.process(name), 'SIGCONT');
    return this.record('thaw', [name]);
  }

  /** Every fault so far, oldest first. */
  log(): FaultRecord[] {
    return this.state.network.faults;
  }

  private process(name: string): LabProcess {
    const s = this.state;
    const p = s.processes.find((x) => x.name === name && x.kind !== 'delayer');
    if (!p)
      throw bad(
        'NAME',
        `"${name}" is not a process of this lab; use one of ${s.processes.map((x) => x.name).join(', ')}.`,
      );
    return p;
  }
}

function signal(p: LabProcess, s: NodeJS.Signals) {
  try {
    process.kill(-p.pgid, s);
  } catch {
    // Gone already.
  }
}

/** Parse `lab fault KIND ARGS…` (the CLI's words) and apply it. */
export async function labFault(dir: string, words: string[]): Promise<FaultRecord> {
  const f = new LabFaults(dir);
  const [kind, ...args] = words;
  const need = (n: number, usage: string) => {
    if (args.length !== n) throw bad('fault', `usage: lab fault ${usage}`);
  };
  switch (kind) {
    case 'partition':
      need(2, 'partition A B');
      return f.partition(args[0]!, args[1]!);
    case 'isolate':
      need(1, 'isolate A');
      return f.isolate(args[0]!);
    case 'latency':
      need(2, 'latency REGION 80ms');
      return f.latency(args[0]!, args[1]!);
    case 'loss':
      need(2, 'loss REGION 5%');
      return f.loss(args[0]!, args[1]!);
    case 'heal':
      if (args.length > 1 || (args[0] !== undefined && args[0] !== 'all'))
        throw bad('fault', 'usage: lab fault heal [all]');
      return f.heal({ all: args[0] === 'all' });
    case 'kill':
    case 'freeze':
    case 'thaw':
      need(1, `${kind} NAME`);
      return f[kind](args[0]!);
    default:
      throw bad(
        'fault',
        `"${kind ?? ''}" is not a fault; use partition, isolate, latency, loss, heal, kill, freeze or thaw.`,
      );
  }
}
