import { z } from 'zod';
import { SYSTEM, type Actor } from '../shared/actor.js';
import type { RotationLimits } from '../shared/log-rotate.js';
import { DEFAULT_LOG_ROTATION } from '../shared/logging.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import { ApplianceSetting } from '../store/appliance-settings.js';

const MiB = 1024 * 1024;
/** What both logs may take together on the data disk, in MiB. */
export const MAX_TOTAL_MiB = 20 * 1024;

const whole = (unit: string, min: number, max: number, maxNote: string) =>
  z
    .number({ message: `is required: a whole number of ${unit} from ${min} to ${max}` })
    .int(`must be a whole number of ${unit} (${min} to ${max})`)
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max} (${maxNote})`);

/** /appliance > Log files: when a log file of this appliance is rotated, and how many are kept. */
export const LogRotationInput = z
  .object({
    maxFileMiB: whole('MiB', 1, 1024, '1 GiB per file; keep more files instead'),
    keepFiles: whole('files', 1, 100, 'for a longer history, raise the file size'),
  })
  .strict()
  .superRefine((r, ctx) => {
    // Only once each field is in its range (its own refusal says what is wrong otherwise).
    const ok = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
    if (!ok(r.maxFileMiB, 1024) || !ok(r.keepFiles, 100)) return;
    // Both logs, each with its current file and its rotated ones, on the database's disk.
    const total = (r.keepFiles + 1) * r.maxFileMiB * 2;
    if (total > MAX_TOTAL_MiB)
      ctx.addIssue({
        code: 'custom',
        path: ['keepFiles'],
        message: `(keepFiles + 1) × maxFileMiB × 2 logs must be at most ${MAX_TOTAL_MiB} MiB (${MAX_TOTAL_MiB / 1024} GiB of the data disk): ${r.keepFiles + 1} × ${r.maxFileMiB} × 2 = ${total} MiB; lower keepFiles or maxFileMiB (at ${r.maxFileMiB} MiB, keep at most ${Math.max(0, Math.floor(MAX_TOTAL_MiB / 2 / r.maxFileMiB) - 1)} files)`,
      });
  });
export type LogRotation = z.infer<typeof LogRotationInput>;

/** A saved setting that is refused today, and the defaults in force instead. */
export interface IgnoredRotation {
  saved: unknown;
  /** The saved size and count as the page and the event show them: `1024 MiB × 100 files`. */
  savedText: string;
  reason: string;
  inForce: LogRotation;
}

export const DEFAULT_LOG_ROTATION_SETTING: LogRotation = {
  maxFileMiB: DEFAULT_LOG_ROTATION.maxFileBytes / MiB,
  keepFiles: DEFAULT_LOG_ROTATION.keepFiles,
};

export const rotationLimitsOf = (r: LogRotation): RotationLimits => ({
  maxFileBytes: r.maxFileMiB * MiB,
  keepFiles: r.keepFiles,
});

/**
 * The size limit and count of this appliance's log files (logs/appliance.log of the worker,
 * logs/supervisor.log of the supervisor). Kept in appliance_settings: this appliance's own disk,
 * never synchronised. Whoever writes a log file listens for changes (`onChange`).
 */
export class LogRotationSetting extends ApplianceSetting<LogRotation> {
  private readonly listeners: ((r: LogRotation) => void)[] = [];

  constructor(
    db: Db,
    private readonly events: EventLog,
  ) {
    super(db, 'logs.rotation');
  }

  /**
   * The stored value, or the default when none is stored or the stored one is refused today (an
   * older version's value over the 20 GiB cap, a restore): `ignored` says which and why.
   */
  current(): LogRotation {
    const stored = LogRotationInput.safeParse(this.get());
    return stored.success ? stored.data : { ...DEFAULT_LOG_ROTATION_SETTING };
  }

  /** The saved value the defaults stand in for, and why it is refused; none when it is used. */
  ignored(): IgnoredRotation | undefined {
    const saved = this.get();
    if (saved === undefined) return undefined;
    const parsed = LogRotationInput.safeParse(saved);
    if (parsed.success) return undefined;
    const reason = parsed.error.issues
      .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
      .join('; ');
    const { maxFileMiB, keepFiles } = (saved ?? {}) as Record<string, unknown>;
    return {
      saved,
      savedText:
        maxFileMiB !== undefined && keepFiles !== undefined
          ? `${JSON.stringify(maxFileMiB)} MiB × ${JSON.stringify(keepFiles)} files`
          : JSON.stringify(saved),
      reason,
      inForce: { ...DEFAULT_LOG_ROTATION_SETTING },
    };
  }

  /**
   * At start: a saved value refused today is recorded in the event log (`logs.rotation-ignored`),
   * so that the defaults standing in for it are not a silent change. Returns what `ignored` does.
   */
  recordIgnored(): IgnoredRotation | undefined {
    const ignored = this.ignored();
    if (ignored)
      this.events.record(
        SYSTEM,
        'logs.rotation-ignored',
        ignored.savedText,
        { saved: ignored.saved, reason: ignored.reason, inForce: ignored.inForce },
        'failed',
      );
    return ignored;
  }

  set(actor: Actor, value: LogRotation): LogRotation {
    const before = this.current();
    this.write(value);
    this.events.record(actor, 'logs.rotation-set', `${value.maxFileMiB} MiB × ${value.keepFiles}`, {
      from: before,
      to: value,
    });
    for (const l of this.listeners) l(value);
    return this.current();
  }

  onChange(listener: (r: LogRotation) => void): void {
    this.listeners.push(listener);
  }
}
