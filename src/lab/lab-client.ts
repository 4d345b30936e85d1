import path from 'node:path';
import { runIn } from './netns.js';
import { hostOf } from './network-plan.js';
import type { LabState } from './state.js';
import { CODE_ROOT } from '../shared/version.js';

/** scripts/lab-client.mjs: runs in a lab host's namespace with node alone (see its header). */
export const LAB_CLIENT = path.join(CODE_ROOT, 'scripts', 'lab-client.mjs');

/** An appliance of a netns lab as the lab client reaches it (pinned to its certificate). */
export interface Target {
  name: string;
  host: string;
  port: number;
  fingerprint: string;
}

export const targets = (state: LabState): Target[] =>
  state.appliances.map((a) => ({
    name: a.name,
    host: a.host,
    port: a.port,
    fingerprint: a.fingerprint,
  }));

/** One signed-in /login API call to an appliance, made from the lab's admin namespace. */
export async function callFrom(
  state: LabState,
  password: string,
  appliance: Target,
  method: string,
  urlPath: string,
  json?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const admin = hostOf(state.network!, 'admin')!;
  let out = '';
  await runIn(
    admin.ns,
    [
      process.execPath,
      LAB_CLIENT,
      'call',
      JSON.stringify({ appliance, password, method, path: urlPath, json }),
    ],
    {
      line: (l) => (out += l),
      fail: (code, stderr) => new Error(`call exited ${code}: ${stderr}`),
    },
  );
  return JSON.parse(out) as { status: number; body: Record<string, unknown> };
}
