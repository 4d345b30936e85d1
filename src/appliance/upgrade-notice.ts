import { z } from 'zod';
import type { Actor } from '../shared/actor.js';

import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import { ApplianceSetting } from '../store/appliance-settings.js';
import { applianceErrors } from './error-codes.js';

/**
 * S23: "do not make changes to Appliance A during this upgrade". While an upgrade of its pair or
 * cluster is in progress, the old primary's site data is overwritten by the first sync after
 * it: the orchestrator marks the appliance, /login shows a banner, and every change must be
 * confirmed (API: this header; web console: the box each form gains).
 */
export const CONFIRM_OVERWRITE_HEADER = 'x-gatehouse-confirm-overwrite';
/** The same flag for a web form, added to its action by static/confirm-overwrite.js. */
export const CONFIRM_OVERWRITE_QUERY = 'confirmOverwrite';

export const UpgradeNoticeInput = z
  .object({
    by: z
      .string({ message: 'is required' })
      .min(1, 'is required')
      .max(100, 'must be at most 100 characters'),
    note: z.string().max(300, 'must be at most 300 characters').default(''),
  })
  .strict();
export type UpgradeNoticeInput = z.infer<typeof UpgradeNoticeInput>;

export interface UpgradeInProgress extends UpgradeNoticeInput {
  since: number;
}

/** The mark, in appliance_settings: this appliance's own, never synchronised, kept at restarts. */
export class UpgradeNotice extends ApplianceSetting<UpgradeInProgress> {
  constructor(
    db: Db,
    private readonly events: EventLog,
  ) {
    super(db, 'upgrade_in_progress');
  }

  set(actor: Actor, input: UpgradeNoticeInput): UpgradeInProgress {
    const notice = { ...this.get(), ...input, since: this.get()?.since ?? Date.now() };
    this.write(notice);
    this.events.record(actor, 'appliance.upgrade-in-progress', input.by, { note: input.note });
    return notice;
  }

  clear(actor: Actor): boolean {
    const had = this.delete();
    if (had) this.events.record(actor, 'appliance.upgrade-finished', '');
    return had;
  }
}

const SESSION = /^\/(api\/)?login\/(session|sign-in|sign-out)$/;

/** A change of site data through /login (signing in and out are not changes). */
export const isSiteChange = (method: string, path: string) =>
  !['GET', 'HEAD', 'OPTIONS'].includes(method) &&
  (path.startsWith('/api/login/') || path.startsWith('/login/')) &&
  !SESSION.test(path);

/** Whether the request carries the confirmation; the query flag is taken off before routes see it. */
export function takeConfirmation(
  headers: Record<string, string | string[] | undefined>,
  query: unknown,
): boolean {
  const q = (query ?? {}) as Record<string, unknown>;
  const fromQuery = q[CONFIRM_OVERWRITE_QUERY];
  delete q[CONFIRM_OVERWRITE_QUERY];
  return headers[CONFIRM_OVERWRITE_HEADER] === 'true' || fromQuery === 'true';
}

export const changeNotConfirmed = (n: UpgradeInProgress) =>
  applianceErrors.UPGRADE_CHANGE_NOT_CONFIRMED(
    `An upgrade of this site is in progress (since ${new Date(n.since).toISOString()}, by ${n.by}): this appliance is the old primary, and a change made here is overwritten by the first sync after the upgrade. Make it on the new primary instead; to make it here anyway, send it again with the header X-Gatehouse-Confirm-Overwrite: true. Nothing was changed.`,
    {
      fields: [
        {
          field: 'X-Gatehouse-Confirm-Overwrite',
          message: 'must be "true": the change is overwritten at the next sync',
        },
      ],
    },
  );
