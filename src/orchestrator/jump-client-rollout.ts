import type { RolloutStatus } from '../sessions/jump-client-upgrades.js';
import type { Deployment } from './deployment.js';

/**
 * S13 in the report: where the Jump Clients stand in their upgrade to the site's build, as each
 * appliance holding control connections saw it when the run ended (their upgrade goes on in
 * waves after the site is upgraded: src/sessions/jump-client-upgrades.ts).
 */
export interface JumpClientRollout {
  appliance: string;
  target: string;
  state: RolloutStatus['state'];
  waves: number;
  upgraded: number;
  waiting: number;
  manual: number;
  halt: RolloutStatus['halt'];
}

/** Every appliance's rollout that had Jump Clients to upgrade (an unreadable one is left out). */
export async function readJumpClientRollouts(d: Deployment): Promise<JumpClientRollout[]> {
  const out: JumpClientRollout[] = [];
  for (const a of d.inventory.appliances) {
    let s: RolloutStatus;
    try {
      s = await d.call<RolloutStatus>(a.name, 'GET', '/api/login/jump-clients/upgrades');
    } catch {
      continue;
    }
    if (s.waves.length === 0 && s.waiting.length === 0 && s.manual.length === 0) continue;
    out.push({
      appliance: a.name,
      target: s.target,
      state: s.state,
      waves: s.waves.length,
      upgraded: s.waves.reduce((n, w) => n + w.returned.length, 0),
      waiting: s.waiting.length,
      manual: s.manual.length,
      halt: s.halt,
    });
  }
  return out;
}

/** The report's lines (text). */
export function describeJumpClientRollouts(rollouts: JumpClientRollout[]): string[] {
  return rollouts.map(
    (r, i) =>
      `  ${i === 0 ? 'Jump Client upgrades   ' : '                       '}  ${r.appliance} → ${r.target}: ${r.state}, ${r.upgraded} upgraded in ${r.waves} wave(s), ${r.waiting} waiting, ${r.manual} to upgrade by hand${r.halt ? ` — HALTED at wave ${r.halt.wave}: ${r.halt.reason}` : ''}`,
  );
}
