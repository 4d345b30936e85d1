import type { Action, Step } from './plan-types.js';
import { PREDICTED_MS } from './plan-input.js';

/**
 * Lays out the steps of a runbook in order, each with its id, and marks where rolling back
 * stops being safe (traffic moved, a role given up, the site taken down by an install).
 */
export function builder() {
  const steps: Step[] = [];
  let rollbackSafe = true;
  const add = (
    s: string[],
    title: string,
    window: Step['window'],
    action: Action,
    predictedMs: number,
    impact: Step['impact'] = 'none',
  ) => {
    const n = steps.filter((x) => x.action.type === action.type).length;
    steps.push({
      id: `${action.type}-${n + 1}`,
      s,
      title,
      window,
      action,
      impact,
      predictedMs,
      rollbackSafe,
    });
    if (
      action.type === 'switch-traffic' ||
      action.type === 'become-backup' ||
      (action.type === 'install' && impact === 'site-down')
    )
      rollbackSafe = false;
  };
  /** The integrity snapshot before (S16) and the comparison after (S16, S21) every runbook. */
  const integrity = (phase: 'before' | 'after', window: Step['window']) =>
    phase === 'before'
      ? add(
          ['S16'],
          'Record counts and digests of the site data on every appliance',
          window,
          { type: 'integrity', phase },
          PREDICTED_MS.other,
        )
      : add(
          ['S16', 'S21'],
          'Compare counts and digests: nothing lost on any appliance',
          window,
          { type: 'integrity', phase },
          PREDICTED_MS.other,
        );
  /** Sync Now on the primary of a pair before its backup is taken out of the relationship (S7). */
  const syncFirst = (primary: string, window: Step['window']) =>
    add(
      ['S7'],
      `Sync Now on ${primary} and wait for it`,
      window,
      { type: 'sync', primary },
      PREDICTED_MS.sync,
    );
  return { steps, add, integrity, syncFirst };
}
