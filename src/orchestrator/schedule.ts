import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

import type { Journal, JournalEntry } from './journal.js';
import { orchestratorErrors } from './error-codes.js';

export type ScheduledEntry = Extract<JournalEntry, { type: 'scheduled' }>;

/** The window waiting to start, if any: scheduled, and neither cancelled nor started since. */
export function pendingSchedule(entries: JournalEntry[]): ScheduledEntry | undefined {
  let pending: ScheduledEntry | undefined;
  for (const e of entries) {
    if (e.type === 'scheduled') pending = e;
    if (e.type === 'schedule-cancelled' && pending?.id === e.id) pending = undefined;
    if (e.type === 'continued' || e.type === 'run') pending = undefined;
  }
  return pending;
}

/** Record the window, then wait for it; 'cancelled' when `gatehouse upgrade cancel` said so. */
export async function waitForWindow(
  journal: Journal,
  command: ScheduledEntry['command'],
  runAt: number,
  say: (line: string) => void,
  pollMs = 500,
): Promise<'due' | 'cancelled'> {
  const pending = pendingSchedule(journal.read());
  if (pending)
    throw orchestratorErrors.UPGRADE_ALREADY_SCHEDULED(
      `\`gatehouse upgrade ${pending.command}\` is already scheduled for ${pending.runAt} (process ${pending.pid}). Cancel it first with \`gatehouse upgrade cancel\`.`,
    );
  const id = randomUUID();
  journal.append({
    type: 'scheduled',
    at: new Date().toISOString(),
    id,
    command,
    runAt: new Date(runAt).toISOString(),
    pid: process.pid,
  });
  say(
    `Scheduled: \`gatehouse upgrade ${command}\` at ${new Date(runAt).toISOString()} (in ${Math.round((runAt - Date.now()) / 1000)} s). Keep this process running; \`gatehouse upgrade cancel\` cancels it, \`gatehouse upgrade status\` shows it.`,
  );
  for (;;) {
    if (pendingSchedule(journal.read())?.id !== id) return 'cancelled';
    const left = runAt - Date.now();
    if (left <= 0) return 'due';
    await delay(Math.min(pollMs, left));
  }
}

/** `gatehouse upgrade cancel`: the waiting process sees it within a poll and exits. */
export function cancelSchedule(journal: Journal): ScheduledEntry {
  const pending = pendingSchedule(journal.read());
  if (!pending)
    throw orchestratorErrors.UPGRADE_NOTHING_SCHEDULED(
      'No window is scheduled: nothing to cancel. `gatehouse upgrade status` shows where the upgrade stands.',
    );
  journal.append({ type: 'schedule-cancelled', at: new Date().toISOString(), id: pending.id });
  return pending;
}
