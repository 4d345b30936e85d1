import { fieldError } from './errors.js';

/** How far ahead a window may be scheduled: further is more likely a typo than a plan. */
export const MAX_AHEAD_MS = 30 * 86_400_000;

/**
 * A maintenance window's time (`--at TIME`, a scheduled switchover's `at`): an ISO 8601 time
 * with its zone (2026-12-07T22:00:00Z, 2026-12-07T23:00+01:00), in the future and at most 30
 * days ahead. A time without a zone is refused: a window must not depend on the zone of the
 * machine that reads it. `field` names the input in the error; `instead` what to do instead
 * of a window (e.g. "leave out --at to start now").
 */
export function parseWindowTime(
  value: string,
  now = Date.now(),
  field = '--at',
  instead = `leave out ${field} to start now`,
): number {
  const v = value.trim();
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/i.exec(v);
  const ms = iso ? Date.parse(v) : NaN;
  if (!iso || Number.isNaN(ms))
    throw fieldError(
      field,
      `"${value}" is not a time: give an ISO 8601 time with its zone, e.g. 2026-12-07T22:00:00Z or 2026-12-07T23:00:00+01:00`,
    );
  if (!iso[3])
    throw fieldError(
      field,
      `"${value}" has no time zone: add Z (UTC) or an offset such as +01:00, so that the window does not depend on this machine's zone`,
    );
  if (ms <= now)
    throw fieldError(
      field,
      `${new Date(ms).toISOString()} is in the past (it is ${new Date(now).toISOString()}): give a time to come, or ${instead}`,
    );
  if (ms - now > MAX_AHEAD_MS)
    throw fieldError(
      field,
      `${new Date(ms).toISOString()} is more than 30 days ahead: schedule it closer to the window`,
    );
  return ms;
}
