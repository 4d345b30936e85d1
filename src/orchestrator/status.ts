import type { Journal } from './journal.js';
import { pendingSchedule } from './schedule.js';

/** `gatehouse upgrade status`: where a run stands, from its journal alone. */
export function upgradeStatus(journal: Journal) {
  const plan = journal.plan();
  const state = journal.state();
  const scheduled = pendingSchedule(state.entries);
  return {
    strategy: plan.strategy,
    steps: { done: state.done.size, total: plan.steps.length },
    state: state.finished
      ? 'finished'
      : state.failed
        ? 'failed'
        : state.paused
          ? 'paused'
          : 'in progress or interrupted',
    failed: state.failed ?? null,
    scheduled: scheduled
      ? { command: scheduled.command, runAt: scheduled.runAt, pid: scheduled.pid }
      : null,
  };
}

export function renderStatus(s: ReturnType<typeof upgradeStatus>): string {
  return (
    [
      `Upgrade (${s.strategy}): ${s.state}, ${s.steps.done} of ${s.steps.total} steps done`,
      s.failed ? `Failed step: ${s.failed.id} [${s.failed.error?.code ?? '?'}]` : '',
      s.scheduled
        ? `Scheduled: \`gatehouse upgrade ${s.scheduled.command}\` at ${s.scheduled.runAt} (waiting in process ${s.scheduled.pid}; \`gatehouse upgrade cancel\` cancels it)`
        : 'Scheduled: nothing',
    ]
      .filter(Boolean)
      .join('\n') + '\n'
  );
}
