import { isIP } from 'node:net';
import { z } from 'zod';
import { type ErrorFactory, GatehouseError, validationError } from '../shared/errors.js';

/*
 * What every method of the traffic switch shares: its configuration, its interface and its
 * errors. The methods themselves import this; `providerFor` (switch.ts) imports them.
 */

/**
 * The site's traffic switch (S19): whatever makes the site hostname reach the primary. Each
 * method is a provider behind this one interface so that the failover code, the API, the
 * console and the CLI move traffic the same way whichever method a site uses.
 */
export interface TrafficSwitchProvider {
  method: 'shared-ip' | 'dns' | 'nat';
  /** One line an operator reads: which provider, and what it changes where. */
  describe(): string;
  /** Send the site's traffic to this appliance. Resolves once the change is in effect. */
  pointAt(target: TrafficTarget): Promise<void>;
  /** Where the site's traffic goes now, as far as the provider can tell. */
  current(): Promise<{ address: string } | undefined>;
}

export interface TrafficTarget {
  /** Appliance name, for logs and hooks. */
  name: string;
  /** The appliance's unique address (IPv4 or IPv6). */
  address: string;
  /** The appliance's port, where the method forwards to a port (NAT). */
  port?: number;
}

const LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

export const DnsName = z
  .string()
  .trim()
  .transform((s) => s.replace(/\.$/, '').toLowerCase())
  .refine((s) => s.length > 0 && s.length <= 253 && s.split('.').every((l) => LABEL.test(l)), {
    message: 'must be a DNS name such as support.example.com (letters, digits, hyphens; no spaces)',
  });

export const IpAddress = z
  .string()
  .trim()
  .refine((s) => isIP(s) !== 0, { message: 'must be an IPv4 or IPv6 address, e.g. 192.0.2.10' });

export const Port = z
  .number()
  .int()
  .min(1, { message: 'must be a port from 1 to 65535' })
  .max(65535, { message: 'must be a port from 1 to 65535' });

export const TrafficTargetSchema = z.object({
  name: z.string().trim().min(1, { message: 'name the appliance traffic goes to' }),
  address: IpAddress,
  port: Port.optional(),
});

const Timeout = z.number().int().min(100).max(600_000);

/** A Linux interface name (at most 15 characters); nothing that `ip -batch` would read as syntax. */
const DEVICE = /^[A-Za-z0-9_.@-]{1,15}$/;

export const SharedIpConfig = z
  .object({
    provider: z.literal('shared-ip'),
    /** The site's shared address that moves between the two appliances. */
    address: IpAddress,
    prefixLength: z
      .number()
      .int()
      .min(1, { message: 'must be from 1 to 32 for IPv4 (1 to 128 for IPv6), e.g. 32' })
      .max(128, { message: 'must be from 1 to 32 for IPv4 (1 to 128 for IPv6), e.g. 32' })
      .default(32),
    /** Network device that carries it (not needed for a loopback address). */
    device: z
      .string()
      .trim()
      .regex(DEVICE, {
        message:
          'must be the name of a network interface such as eth0 (1-15 letters, digits, _ . @ -)',
      })
      .default('lo'),
    /** Name of this appliance: pointing at it takes the address here; at another, releases it. */
    localName: z.string().trim().min(1, { message: 'name this appliance (its appliance name)' }),
  })
  .superRefine((c, ctx) => {
    if (isIP(c.address) === 4 && c.prefixLength > 32)
      ctx.addIssue({
        code: 'custom',
        path: ['prefixLength'],
        message: `must be from 1 to 32 for the IPv4 address ${c.address}, e.g. 32`,
      });
  });

export const HostsFileConfig = z.object({
  provider: z.literal('hosts-file'),
  file: z.string().trim().min(1).default('/etc/hosts'),
  hostname: DnsName,
});

export const TsigKey = z.object({
  name: DnsName,
  algorithm: z.enum(['hmac-sha256', 'hmac-sha384', 'hmac-sha512']).default('hmac-sha256'),
  /** The shared secret, base64 as in a BIND key file. */
  secret: z
    .string()
    .trim()
    .refine((s) => /^[A-Za-z0-9+/]+={0,2}$/.test(s) && Buffer.from(s, 'base64').length >= 16, {
      message: 'must be the base64 secret of the key (at least 16 bytes), as tsig-keygen prints it',
    }),
});

export const Rfc2136Config = z
  .object({
    provider: z.literal('rfc2136'),
    /** The primary (authoritative) server of the zone that accepts updates. */
    server: z.string().trim().min(1, { message: 'give the DNS server host or address' }),
    port: Port.default(53),
    zone: DnsName,
    hostname: DnsName,
    ttl: z.number().int().min(0).max(86_400).default(60),
    tsig: TsigKey,
    timeoutMs: Timeout.default(5_000),
  })
  .superRefine((c, ctx) => {
    if (c.hostname !== c.zone && !c.hostname.endsWith(`.${c.zone}`))
      ctx.addIssue({
        code: 'custom',
        path: ['hostname'],
        message: `${c.hostname} is not inside the zone ${c.zone}; give the zone that contains the site hostname`,
      });
  });

export const CommandConfig = z.object({
  provider: z.literal('command'),
  /** Program and arguments run (no shell) to point the firewall's NAT at the target. */
  argv: z.array(z.string().min(1)).min(1, { message: 'give the program to run and its arguments' }),
  /** Optional program whose first line of output is the address traffic goes to now. */
  currentArgv: z.array(z.string().min(1)).min(1).optional(),
  timeoutMs: Timeout.default(30_000),
});

export const NatForwarderConfig = z.object({
  provider: z.literal('nat-forwarder'),
  /** The forwarder's control API, host:port. */
  control: z
    .string()
    .trim()
    .regex(/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/, {
      message: 'must be HOST:PORT of the forwarder control API, e.g. 127.0.0.1:9443',
    }),
  /** SHA-256 fingerprint of the forwarder's certificate, as it prints at start. */
  fingerprint: z
    .string()
    .trim()
    .transform((s) => s.toUpperCase())
    .refine((s) => /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(s), {
      message: 'must be the SHA-256 fingerprint the forwarder printed (AB:CD:… 32 pairs)',
    }),
  token: z.string().trim().min(16, { message: 'give the control token the forwarder printed' }),
  /** Port used when the target names none. */
  defaultPort: Port.default(443),
  timeoutMs: Timeout.default(10_000),
});

export const TrafficSwitchConfig = z.discriminatedUnion('provider', [
  SharedIpConfig,
  HostsFileConfig,
  Rfc2136Config,
  CommandConfig,
  NatForwarderConfig,
]);

export type TrafficSwitchConfig = z.infer<typeof TrafficSwitchConfig>;
export type TrafficSwitchConfigInput = z.input<typeof TrafficSwitchConfig>;
export type SharedIpConfig = z.infer<typeof SharedIpConfig>;
export type HostsFileConfig = z.infer<typeof HostsFileConfig>;
export type Rfc2136Config = z.infer<typeof Rfc2136Config>;
export type CommandConfig = z.infer<typeof CommandConfig>;
export type NatForwarderConfig = z.infer<typeof NatForwarderConfig>;

export const PROVIDERS = [
  'shared-ip',
  'hosts-file',
  'rfc2136',
  'command',
  'nat-forwarder',
] as const;

/** Validate a traffic switch configuration at the edge; errors name each offending field. */
export function parseTrafficSwitchConfig(value: unknown): TrafficSwitchConfig {
  const result = TrafficSwitchConfig.safeParse(value);
  if (result.success) return result.data;
  throw validationError(
    result.error.issues.map((issue) => ({
      field: issue.path.length ? issue.path.join('.') : 'provider',
      message:
        issue.path[0] === 'provider' || (issue.path.length === 0 && issue.code !== 'custom')
          ? `must be one of ${PROVIDERS.join(', ')}`
          : issue.code === 'invalid_type' && issue.input === undefined
            ? 'is required'
            : issue.message,
    })),
  );
}

export function parseTrafficTarget(value: unknown): TrafficTarget {
  const result = TrafficTargetSchema.safeParse(value);
  if (result.success) return result.data;
  throw validationError(
    result.error.issues.map((issue) => ({
      field: issue.path.join('.') || 'target',
      message: issue.message,
    })),
  );
}

/**
 * A traffic switch failure: a TRAFFIC_* code of the catalogue and a message that says what to
 * do, with the field it is about.
 */
export function trafficError<Also extends number = never>(
  code: ErrorFactory<string, Also>,
  message: string,
  opts: { field?: string; cause?: unknown; status?: Also } = {},
): GatehouseError {
  return code(message, {
    ...(opts.status === undefined ? {} : { status: opts.status }),
    ...(opts.field ? { fields: [{ field: opts.field, message }] } : {}),
    ...(opts.cause === undefined ? {} : { cause: opts.cause }),
  });
}
