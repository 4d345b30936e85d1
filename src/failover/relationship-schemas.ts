import { isIP } from 'node:net';
import { z } from 'zod';

/** A hostname (RFC 1123 labels) or an IPv4/IPv6 address, as typed by the administrator. */
export const PeerHost = z
  .string({ message: 'is required' })
  .trim()
  .min(1, 'is required: the hostname or IP address of the appliance')
  .max(253, 'must be at most 253 characters')
  .refine(
    (h) =>
      h === '' ||
      isIP(h) !== 0 ||
      /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
        h,
      ),
    'must be a valid hostname (e.g. backup.example.com) or IP address (e.g. 192.0.2.10)',
  );

export const PeerPort = z.coerce
  .number({ message: 'must be a TLS port number (1-65535)' })
  .int('must be a whole number')
  .min(1, 'must be a TLS port number (1-65535)')
  .max(65535, 'must be a TLS port number (1-65535)');

export const PeerAddressSchema = z.object({ host: PeerHost, port: PeerPort }).strict();

/** How often the backup syncs after the first (S15). */
const SyncIntervalSeconds = z.coerce
  .number({ message: 'must be a number of seconds' })
  .int('must be a whole number')
  .min(5, 'must be 5 or more')
  .max(86_400, 'must be at most 86400 (a day)');

/** Change the sync interval of an established pair; both appliances keep it (S15). */
export const SyncIntervalInput = z.object({ syncIntervalSeconds: SyncIntervalSeconds }).strict();

/**
 * Establish Relationship (S14), on the intended primary: how this appliance reaches the new
 * backup, and the reverse connection details the backup is given to reach this primary.
 */
export const EstablishInput = z
  .object({
    backupHost: PeerHost,
    backupPort: PeerPort,
    reverseHost: PeerHost,
    reversePort: PeerPort,
    firstSyncAfterSeconds: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int('must be a whole number')
      .min(1, 'must be 1 or more')
      .max(86_400, 'must be at most 86400 (a day)')
      .default(60),
    syncIntervalSeconds: SyncIntervalSeconds.default(300),
  })
  .strict();
export type EstablishInput = z.infer<typeof EstablishInput>;

/** Become Backup / Become Primary: `force` = even if the peer site cannot be contacted (S25). */
export const RoleChangeInput = z
  .object({ force: z.boolean({ message: 'must be true or false' }).default(false) })
  .strict();

/** A scheduled switchover: the time, checked by parseWindowTime (zone required, to come). */
export const ScheduledSwitchoverInput = z
  .object({ at: z.string({ message: 'is required: an ISO 8601 time with its zone' }) })
  .strict();

export const BackupOperationsInput = z
  .object({ enabled: z.boolean({ message: 'must be true or false' }) })
  .strict();

/**
 * A witness (`gatehouse witness` on a third host): the appliance pins its certificate, and
 * the primary serves only while it holds the witness's lease or the backup's promise.
 */
export const WitnessSchema = z
  .object({
    host: PeerHost,
    port: PeerPort,
    fingerprint: z
      .string({ message: 'is required' })
      .trim()
      .regex(
        /^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/,
        'must be the SHA-256 fingerprint the witness printed at its first start (AB:CD:…, 32 pairs)',
      )
      .transform((f) => f.toUpperCase()),
    leaseSeconds: z.coerce
      .number({ message: 'must be a number of seconds' })
      .min(0.2, 'must be 0.2 or more')
      .max(600, 'must be at most 600 (ten minutes)')
      .default(10),
  })
  .strict();
export type WitnessConfig = z.infer<typeof WitnessSchema>;

/** Optional automatic failover: off by default; check addresses guard against split brain. */
export const AutomaticFailoverSchema = z
  .object({
    enabled: z.boolean({ message: 'must be true or false' }),
    unreachableForSeconds: z.coerce
      .number({ message: 'must be a number of seconds' })
      .min(0.2, 'must be 0.2 or more')
      .max(3_600, 'must be at most 3600 (an hour)'),
    checkAddresses: z
      .array(PeerAddressSchema, { message: 'must be a list of {host, port}' })
      .max(10, 'at most 10 check addresses'),
    /**
     * A backup whose last sync is older than this is not promoted (automatic takeover, or
     * Become Primary without force), as Patroni's maximum_lag_on_failover; null: no limit.
     */
    maximumSyncAgeSeconds: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int('must be a whole number')
      .min(5, 'must be 5 or more')
      .max(2_592_000, 'must be at most 2592000 (30 days)')
      .nullable()
      .default(null),
    /** The third vote that breaks the tie when only the link between the appliances fails. */
    witness: WitnessSchema.nullable().default(null),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.enabled && v.checkAddresses.length === 0 && !v.witness)
      ctx.addIssue({
        code: 'custom',
        path: ['checkAddresses'],
        message:
          'needs at least one address (host:port) the backup must still reach before it takes over, e.g. the default gateway or a DNS server, or a witness: it tells a dead primary from a network split',
      });
  });
export type AutomaticFailover = z.infer<typeof AutomaticFailoverSchema>;

export const DEFAULT_AUTOMATIC_FAILOVER: AutomaticFailover = {
  enabled: false,
  unreachableForSeconds: 60,
  checkAddresses: [],
  maximumSyncAgeSeconds: null,
  witness: null,
};

/** What every relationship call between the two appliances carries about its sender. */
export const PeerClaim = z.object({
  role: z.enum(['standalone', 'primary', 'backup']),
  generation: z.number().int().nonnegative(),
  /**
   * A backup with a witness promises, for this long from when it sends it, not to take over:
   * the primary may serve on it while the witness cannot be reached (docs/failover.md).
   */
  promiseMs: z.number().int().positive().optional(),
});
export type PeerClaim = z.infer<typeof PeerClaim>;

/** A changed sync interval, told to the peer so that whichever is backup uses it. */
export const SyncIntervalMessage = PeerClaim.extend({
  intervalMs: z.number().int().min(5_000).max(86_400_000),
});

export const JoinMessage = z.object({
  /** How the primary reaches the backup (the backup's own address, as the primary knows it). */
  backupAddress: PeerAddressSchema,
  /** The reverse connection details: how the backup reaches the primary. */
  primaryAddress: PeerAddressSchema,
  primaryFingerprint: z.string().min(1),
  generation: z.number().int().positive(),
  sync: z.object({ firstAfterMs: z.number().int().positive(), intervalMs: z.number().int() }),
  /** What the primary runs: a backup refuses a newer primary (its data would not be understood). */
  productVersion: z.string().min(1).optional(),
  schemaVersion: z.number().int().nonnegative().optional(),
  /** The site certificate authority the backup adopts (S20); checked by the backup. */
  siteCa: z.unknown().optional(),
});
export type JoinMessage = z.infer<typeof JoinMessage>;

export const RoleRequest = PeerClaim.extend({
  /** The generation the requested role change creates. */
  newGeneration: z.number().int().positive(),
  finalSync: z.boolean().default(false),
});
export type RoleRequest = z.infer<typeof RoleRequest>;
