/**
 * Where a switch of `npm run bench -- network` spends its time: each step's moment, in ms after
 * the switch began, from sources outside the appliances where possible.
 *
 * - `ip -ts monitor address` in each appliance's namespace: when the shared address was added
 *   and removed there (the kernel's own word, not the appliance's);
 * - `ip -ts monitor neigh` in the router's namespace: when the router learnt the address at the
 *   new primary's MAC (the gratuitous ARP arrived), on the path every client takes;
 * - the witness's log: when it granted the lease to a new holder;
 * - the appliances' event logs: fenced (and since when), takeover, role changes;
 * - the prober: the first refused connection (the address answers with no listener behind it)
 *   and the first handshake the new primary answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { nsExec } from '../src/lab/netns.js';
import { median } from './support.js';

export interface Mark {
  step: string;
  at: number;
}

/** `ip -ts -o monitor …` in a namespace: every line with its time (ms since 1970). */
export class IpMonitor {
  readonly lines: { at: number; text: string }[] = [];
  private readonly child: ChildProcess;

  constructor(ns: string, what: 'address' | 'neigh') {
    const [file, ...args] = nsExec(ns, ['ip', '-ts', '-o', 'monitor', what]);
    this.child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      // "[2026-12-07T09:39:44.277192] 1: lo inet …": the machine's local time, as Date.now().
      const m = /^\[([^\]]+)\]\s*(.*)$/.exec(l);
      if (m) this.lines.push({ at: new Date(m[1]!).getTime(), text: m[2]! });
    });
  }

  /** The first line after `from` that matches. */
  first(from: number, match: (text: string) => boolean): number | undefined {
    return this.lines.find((l) => l.at >= from && match(l.text))?.at;
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

/** Lines a witness prints (JSON with `at` and `event`), kept with their time. */
export function witnessLog(stdout: Readable): { at: number; event: string; to: string }[] {
  const seen: { at: number; event: string; to: string }[] = [];
  createInterface({ input: stdout }).on('line', (l) => {
    if (!l.startsWith('{')) return;
    try {
      const j = JSON.parse(l) as { at: string; event: string; to: string };
      seen.push({ at: Date.parse(j.at), event: j.event, to: j.to });
    } catch {
      // not a log line
    }
  });
  return seen;
}

/** One address on a device in `ip -o monitor address` output (added, or "Deleted"). */
export const addressLine = (vip: string, deleted: boolean) => (text: string) =>
  text.includes(` inet ${vip}/`) && text.startsWith('Deleted') === deleted;

/** A neighbour entry of the router for `vip` at `mac` (`ip -o monitor neigh`). */
export const neighLine = (vip: string, mac: string) => (text: string) =>
  text.startsWith(`${vip} `) && text.toLowerCase().includes(`lladdr ${mac.toLowerCase()}`);

/** Marks of several runs of one switch: each step's median and every run's value. */
export function breakdown(title: string, runs: Mark[][]): string {
  const steps: string[] = [];
  for (const r of runs) for (const m of r) if (!steps.includes(m.step)) steps.push(m.step);
  const rows = steps.map((s) => {
    const v = runs.map((r) => r.find((m) => m.step === s)?.at);
    const known = v.filter((x): x is number => x !== undefined);
    return { s, v, med: known.length ? median(known) : undefined, first: Math.min(...known) };
  });
  rows.sort((x, y) => (x.med ?? Infinity) - (y.med ?? Infinity) || x.first - y.first);
  const width = Math.max(...rows.map((r) => r.s.length));
  const fmt = (x: number | undefined) => (x === undefined ? '—' : `${Math.round(x)}`);
  return [
    `${title} (ms after the switch began: median, then each run)`,
    ...rows.map(
      (r) => `  ${r.s.padEnd(width)}  ${fmt(r.med).padStart(6)}   ${r.v.map(fmt).join(', ')}`,
    ),
  ].join('\n');
}

/** The macs of each host's eth0, to tell which appliance the router's entry points at. */
export async function macOf(ns: string): Promise<string> {
  const [file, ...args] = nsExec(ns, ['cat', '/sys/class/net/eth0/address']);
  return new Promise((resolve, reject) => {
    const c = spawn(file!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.once('error', reject);
    c.once('exit', () => resolve(out.trim()));
  });
}
