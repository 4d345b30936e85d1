import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { nsExec } from './netns.js';
import { hostOf } from './network-plan.js';
import { GATEHOUSE_BIN } from './processes.js';
import type { LabState } from './state.js';

/**
 * `gatehouse witness` in a host's namespace of a netns lab (the split-brain test and the
 * network benchmark run one beside the pair), with the lab's Inter-Appliance key; resolves with
 * its fingerprint once it listens. The caller kills it (the lab's namespaces go with `lab down`).
 */
export async function startWitnessIn(
  state: LabState,
  host: string,
  port: number,
): Promise<{ child: ChildProcess; address: string; port: number; fingerprint: string }> {
  const h = hostOf(state.network!, host)!;
  const [file, ...args] = nsExec(h.ns, [
    process.execPath,
    GATEHOUSE_BIN,
    'witness',
    '--listen',
    `${h.address}:${port}`,
    '--data-dir',
    path.join(state.dir, 'witness'),
    '--key-file',
    path.join(state.dir, state.interApplianceKeyFile),
  ]);
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const seen = (d: Buffer) => {
      out += d.toString();
      const m = /fingerprint: (\S+)/.exec(out);
      if (m) resolve({ child, address: h.address, port, fingerprint: m[1]! });
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`the witness exited (${code}): ${out}`)));
  });
}

/** Automatic failover settings with this witness (PUT /api/login/failover/automatic). */
export const automaticWithWitness = (
  w: { address: string; port: number; fingerprint: string },
  leaseSeconds: number,
  unreachableForSeconds: number,
) => ({
  enabled: true,
  unreachableForSeconds,
  checkAddresses: [],
  witness: { host: w.address, port: w.port, fingerprint: w.fingerprint, leaseSeconds },
});
