import { spawn } from 'node:child_process';
import path from 'node:path';

import { nsExec } from './netns.js';
import { hostOf, type LabNetwork } from './network-plan.js';
import { GATEHOUSE_BIN } from './processes.js';
import { requireState } from './state.js';
import { labErrors } from './error-codes.js';

/** The namespace of a host of a netns lab (`router` too); the error lists the hosts. */
export function hostNamespace(net: LabNetwork | undefined, dir: string, host: string): string {
  if (!net)
    throw labErrors.LAB_NOT_NETNS(
      `--dir ${dir}: this lab runs on loopback, without namespaces; start one with \`gatehouse lab up --network netns\`.`,
    );
  if (host === 'router') return net.routerNs;
  const h = hostOf(net, host);
  if (!h)
    throw labErrors.LAB_NO_SUCH_HOST(
      `${host} is not a host of this lab; use one of router, ${net.hosts.map((x) => x.name).join(', ')}.`,
      { fields: [{ field: 'host', message: 'is not a host of this lab' }] },
    );
  return h.ns;
}

/** `lab exec HOST -- CMD…`: run CMD in HOST's namespace, its output ours; its exit code. */
export async function labExec(dirArg: string, host: string, argv: string[]): Promise<number> {
  const dir = path.resolve(dirArg);
  const ns = hostNamespace(requireState(dir).network, dir, host);
  const cmd = argv[0] === 'gatehouse' ? [process.execPath, GATEHOUSE_BIN, ...argv.slice(1)] : argv;
  const [file, ...args] = nsExec(ns, cmd);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
