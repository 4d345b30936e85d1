/**
 * The prober of `npm run bench -- network`: a TLS handshake on the site address every 10 ms from
 * the lab's `client` namespace, each answer recorded with the certificate that answered, each
 * failure with its error (a refusal means the address answered with no listener behind it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { nsExec } from '../src/lab/netns.js';
import { hostOf } from '../src/lab/network-plan.js';
import type { LabState } from '../src/lab/state.js';
import { until } from '../src/shared/until.js';

/**
 * Handshakes every 10 ms on host:port, each line ending with when the handshake began: "ms
 * fingerprint began" per answer, "ms ERR code began" per failure (TIMEOUT: no answer in 500 ms).
 */
const PROBER = `
const tls = require('node:tls');
const [host, port] = [process.argv[1], Number(process.argv[2])];
setInterval(() => {
  const began = Date.now();
  const s = tls.connect({ host, port, rejectUnauthorized: false, timeout: 500 }, () => {
    console.log(Date.now() + ' ' + s.getPeerCertificate().fingerprint256 + ' ' + began);
    s.destroy();
  });
  s.on('timeout', () => {
    console.log(Date.now() + ' ERR TIMEOUT ' + began);
    s.destroy();
  });
  s.on('error', (e) => console.log(Date.now() + ' ERR ' + (e.code || 'unknown') + ' ' + began));
}, 10);`;

/** One handshake: when it ended, who answered (fingerprint) or its error code, when it began. */
export type Probe = [at: number, what: string, began: number];

/** What a switch's timeline reads from a prober. */
export interface Probes {
  readonly seen: Probe[];
  readonly errors: Probe[];
}

export class Prober implements Probes {
  readonly seen: Probe[] = [];
  readonly errors: Probe[] = [];
  private readonly child: ChildProcess;

  constructor(state: LabState, host: string, port: number) {
    const ns = hostOf(state.network!, 'client')!.ns;
    const [file, ...args] = nsExec(ns, [process.execPath, '-e', PROBER, host, String(port)]);
    this.child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      const [t, fp, ...rest] = l.split(' ');
      if (fp === 'ERR') this.errors.push([Number(t), rest[0]!, Number(rest[1])]);
      else this.seen.push([Number(t), fp!, Number(rest[0])]);
    });
  }

  /** The first answer by `fingerprint` after `from` (ms since `from`). */
  async firstBy(fingerprint: string, from: number, timeoutMs = 60_000): Promise<number> {
    let at: number | undefined;
    await until(
      () => (at = this.seen.find(([t, fp]) => t >= from && fp === fingerprint)?.[0]) !== undefined,
      timeoutMs,
      'the backup to answer on the VIP',
      5,
    );
    return at! - from;
  }

  /** The longest stretch without an answered handshake between `from` and `to`. */
  longestGap(from: number, to: number): { from: number; to: number } {
    const ts = [from, ...this.seen.map(([t]) => t).filter((t) => t > from && t < to), to];
    let gap = { from, to: from };
    for (let i = 1; i < ts.length; i++)
      if (ts[i]! - ts[i - 1]! > gap.to - gap.from) gap = { from: ts[i - 1]!, to: ts[i]! };
    return gap;
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
