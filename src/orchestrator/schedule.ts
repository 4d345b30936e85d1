import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { fieldError, GatehouseError } from '../shared/errors.js';
import type { Journal, JournalEntry } from './journal.js';

/** How far ahead a window may be scheduled: further is more likely a typo than a plan. */
export const MAX_AHEAD_MS = 30 * 86_400_000;

/**
 * `--at TIME`: an ISO 8601 time with its zone (2026-12-07T22:00:00Z, 2026-12-07T23:00+01:00),
 * in the future and at most 30 days ahead. A time without a zone is refused: a maintenance
 * window must not depend on the zone of the machine the orchestrator runs on.
 */
export function parseWindowTime(value: string, now = Date.now(), flag = '--at'): number {
  const v = value.trim();
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/i.exec(v);
  const ms = iso ? Date.parse(v) : NaN;
  if (!iso || Number.isNaN(ms))
    throw fieldError(
      flag,
      `"${value}" is not a time: give an ISO 8601 time with its zone, e.g. 2026-12-07T22:00:00Z or 2026-12-07T23:00:00+01:00`,
    );
  if (!iso[3])
    throw fieldError(
      flag,
      `"${value}" has no time zone: add Z (UTC) or an offset such as +01:00, so that the window does not depend on this machine's zone`,
    );
  if (ms <= now)
    throw fieldError(
      flag,
      `${new Date(ms).toISOString()} is in the past (it is ${new Date(now).toISOString()}): give a time to come, or leave out ${flag} to start now`,
    );
  if (ms - now > MAX_AHEAD_MS)
    throw fieldError(
      flag,
      `${new Date(ms).toISOString()} is more than 30 days ahead: schedule it closer to the window`,
    );
  return ms;
}

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
    throw new GatehouseError(
      'UPGRADE_ALREADY_SCHEDULED',
      409,
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
    throw new GatehouseError(
      'UPGRADE_NOTHING_SCHEDULED',
      409,
      'No window is scheduled: nothing to cancel. `gatehouse upgrade status` shows where the upgrade stands.',
    );
  journal.append({ type: 'schedule-cancelled', at: new Date().toISOString(), id: pending.id });
  return pending;
}
