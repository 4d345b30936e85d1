import { z } from 'zod';
import type { Db } from '../store/db.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';

import { readApplianceSetting, writeApplianceSetting } from '../store/appliance-settings.js';
import { updatesErrors } from './error-codes.js';

/** This appliance's own update settings (appliance_settings; never synchronised to a peer). */
export const UpdateServerConfig = z
  .object({
    url: z
      .string({ message: 'is required' })
      .url('must be an https:// URL such as https://updates.example.com:8444')
      .refine(
        (u) => u.startsWith('https://'),
        'must start with https:// (updates travel over TLS only)',
      ),
    fingerprint: z
      .string({ message: 'is required' })
      .transform((s) => s.replace(/:/g, '').toLowerCase())
      .refine(
        (s) => /^[0-9a-f]{64}$/.test(s),
        "must be the update server's SHA-256 certificate fingerprint (64 hex digits, colons allowed), as printed by `gatehouse update-server start`",
      ),
    // Enrols this appliance at its next check (issue 18, finding 4); spent then, and forgotten.
    registrationToken: z
      .string()
      .trim()
      .regex(
        /^ghrt1\.[A-Za-z0-9_-]{43}$/,
        'must be a registration token from the update server\'s operator (it starts with "ghrt1."), or empty',
      )
      .optional()
      .or(z.literal('').transform(() => undefined)),
  })
  .strict();
export type UpdateServerConfig = z.infer<typeof UpdateServerConfig>;
/** What the appliance shows of its update server settings: never the token itself. */
export type UpdateServerView = Omit<UpdateServerConfig, 'registrationToken'> & {
  registrationTokenPending: boolean;
};

export const AutomaticUpdates = z
  .object({
    enabled: z.boolean({ message: 'must be true or false' }),
    dailyAt: z
      .string()
      .regex(
        /^([01]\d|2[0-3]):[0-5]\d$/,
        'must be a time of day HH:MM (24-hour, appliance clock), e.g. 03:30',
      )
      .default('03:30'),
  })
  .strict();
export type AutomaticUpdates = z.infer<typeof AutomaticUpdates>;

export const InstallSafety = z
  .object({
    reserveMiB: z
      .number({ message: 'must be a number of MiB' })
      .int('must be a whole number of MiB')
      .min(0, 'must be 0 or more')
      .max(1024 * 1024 * 1024, 'must be at most 1 PiB'),
  })
  .strict();

const KEYS = {
  server: 'updates.server',
  automatic: 'updates.automatic',
  reserveMiB: 'updates.reserveMiB',
};

export class UpdateSettings {
  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  private read<T>(key: string): T | undefined {
    return readApplianceSetting<T>(this.db, key);
  }

  private write(key: string, value: unknown): void {
    writeApplianceSetting(this.db, key, value);
  }

  server(): UpdateServerConfig | undefined {
    return this.read<UpdateServerConfig>(KEYS.server);
  }

  serverView(): UpdateServerView | undefined {
    const config = this.server();
    if (!config) return undefined;
    const { registrationToken, ...rest } = config;
    return { ...rest, registrationTokenPending: !!registrationToken };
  }

  setServer(actor: Actor, config: UpdateServerConfig): void {
    this.write(KEYS.server, config);
    this.events.record(actor, 'updates.server-set', config.url, {
      fingerprint: config.fingerprint,
      registrationToken: config.registrationToken ? 'given' : 'none',
    });
  }

  /** The registration token was spent: keep the server, forget the token. */
  forgetRegistrationToken(): void {
    const config = this.server();
    if (!config?.registrationToken) return;
    const spent: UpdateServerConfig = { ...config };
    delete spent.registrationToken;
    this.write(KEYS.server, spent);
  }

  automatic(): AutomaticUpdates {
    return this.read<AutomaticUpdates>(KEYS.automatic) ?? { enabled: false, dailyAt: '03:30' };
  }

  /** S5: automatic updates are for standalone appliances only. */
  setAutomatic(actor: Actor, value: AutomaticUpdates, standing: Standing): void {
    const problem = automaticUpdatesRefusal(value.enabled, standing);
    if (problem) {
      this.events.record(
        actor,
        'updates.automatic-refused',
        describeStanding(standing),
        { reason: problem },
        'denied',
      );
      throw updatesErrors.UPDATE_AUTOMATIC_NOT_STANDALONE(problem, {
        fields: [{ field: 'enabled', message: problem }],
      });
    }
    this.write(KEYS.automatic, value);
    this.events.record(actor, 'updates.automatic-set', value.enabled ? 'enabled' : 'disabled', {
      dailyAt: value.dailyAt,
    });
  }

  reserveMiB(): number {
    return this.read<number>(KEYS.reserveMiB) ?? 256;
  }

  setReserveMiB(actor: Actor, mib: number): void {
    this.write(KEYS.reserveMiB, mib);
    this.events.record(actor, 'updates.reserve-set', `${mib} MiB`);
  }
}

/**
 * Where an appliance stands: its failover role and its place in a cluster (a backup that holds
 * the cluster's nodes is the backup primary node, S17).
 */
export interface Standing {
  failover: 'standalone' | 'primary' | 'backup';
  cluster: 'none' | 'primary-node' | 'traffic-node';
}

export const isStandalone = (s: Standing): boolean =>
  s.failover === 'standalone' && s.cluster === 'none';

/** The standing in the document's words, e.g. "the backup primary node of a cluster". */
export function describeStanding(s: Standing): string {
  if (s.cluster === 'traffic-node') return 'a traffic node of a cluster';
  if (s.cluster === 'primary-node')
    return s.failover === 'backup'
      ? 'the backup primary node of a cluster'
      : `the primary node of a cluster${s.failover === 'primary' ? ', in a failover relationship' : ''}`;
  if (s.failover !== 'standalone') return `the ${s.failover} of a failover relationship`;
  return 'a standalone appliance';
}

/** Why automatic updates may not be enabled for an appliance standing so (S5), or undefined. */
export function automaticUpdatesRefusal(enabling: boolean, s: Standing): string | undefined {
  if (!enabling || isStandalone(s)) return undefined;
  return `Automatic updates cannot be enabled: this appliance is ${describeStanding(s)}. Appliances in a failover pair or a cluster are upgraded by the runbook (or \`gatehouse upgrade\`) so that every member stays compatible; leave automatic updates off.`;
}

/** Whether the daily automatic update should run now (once a day, in the set minute). */
export function automaticUpdateDue(auto: AutomaticUpdates, now: Date, lastRunDay: string): boolean {
  const hhmm = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
  return auto.enabled && hhmm === auto.dailyAt && lastRunDay !== now.toDateString();
}
