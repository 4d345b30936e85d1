import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { wholeNumber } from '../shared/whole-number.js';
import { validationError } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';

/** Kept with the /login settings (site_settings): a failover backup forwards to the same place. */
const KEY = 'syslog';

const Fingerprint = z
  .string()
  .trim()
  .transform((v) => v.toUpperCase())
  .pipe(
    z
      .string()
      .regex(
        /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/,
        "must be the collector certificate's SHA-256 fingerprint AB:CD:… (openssl x509 -noout -fingerprint -sha256)",
      ),
  );

const CaPem = z
  .string()
  .trim()
  .refine((pem) => {
    try {
      new X509Certificate(pem);
      return true;
    } catch {
      return false;
    }
  }, 'must be a PEM certificate (-----BEGIN CERTIFICATE-----) of the CA that signed the collector');

export const SyslogConfigInput = z
  .object({
    enabled: z.boolean({ message: 'must be true or false' }),
    host: z
      .string({ message: 'is required' })
      .trim()
      .min(1, 'is required')
      .max(253)
      .regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or IP address of the collector'),
    port: z.coerce
      .number({ message: 'must be a port number' })
      .int('must be a whole number')
      .min(1, 'must be 1 to 65535')
      .max(65535, 'must be 1 to 65535')
      .default(6514),
    fingerprint: Fingerprint.optional(),
    caPem: CaPem.optional(),
    spoolMaxMessages: wholeNumber(10, 1_000_000).default(100_000),
  })
  .strict();
export type SyslogConfig = z.infer<typeof SyslogConfigInput>;

/** /login > Management > Syslog: where the event log is forwarded, and how the collector is trusted. */
export class SyslogSettings {
  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  get(): SyslogConfig | undefined {
    const row = this.db.prepare('SELECT value FROM site_settings WHERE key = ?').get(KEY) as
      { value: string } | undefined;
    if (!row) return undefined;
    const parsed = SyslogConfigInput.safeParse(JSON.parse(row.value));
    return parsed.success ? parsed.data : undefined;
  }

  set(actor: Actor, config: SyslogConfig): SyslogConfig {
    if (!config.fingerprint === !config.caPem)
      throw validationError([
        {
          field: 'fingerprint',
          message:
            "give exactly one way to trust the collector: its certificate's SHA-256 fingerprint (pinned) or the PEM of the CA that signed it (caPem)",
        },
      ]);
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO site_settings (key, value, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        )
        .run(KEY, JSON.stringify(config), Date.now());
      this.events.record(actor, 'syslog.configured', `${config.host}:${config.port}`, {
        enabled: config.enabled,
        trust: config.fingerprint ? 'pinned' : 'ca',
        spoolMaxMessages: config.spoolMaxMessages,
      });
    })();
    return config;
  }
}
