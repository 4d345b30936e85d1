import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { GatehouseError, type FieldError } from '../shared/errors.js';
import { orchestratorErrors } from './error-codes.js';

/**
 * The inventory of a deployment, as `gatehouse upgrade` reads it (YAML). It says where each
 * appliance is and where the orchestrator's credentials come from (an environment variable or
 * a file, never the inventory itself); roles, failover pairs and cluster nodes are read from
 * the appliances and checked against what the inventory expects.
 */
const Secret = z
  .object({
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional(),
    file: z.string().min(1).optional(),
  })
  .strict()
  .refine((s) => !!s.env !== !!s.file, 'give exactly one of env or file');

const Account = z
  .object({
    username: z.string().min(1, 'is required'),
    password: Secret,
  })
  .strict();

const Address = z
  .string({ message: 'is required' })
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 10.0.0.11:443');

const Fingerprint = z
  .string({ message: 'is required' })
  .regex(
    /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/,
    'must be the SHA-256 certificate fingerprint AB:CD:… the appliance printed at start',
  );

export const InventoryAppliance = z
  .object({
    name: z.string().min(1, 'is required'),
    /** Where the orchestrator reaches its API (its unique address, not the shared one). */
    address: Address,
    fingerprint: Fingerprint,
    /** What the inventory expects it to be; checked by `plan`. */
    role: z.enum(['standalone', 'primary', 'backup', 'traffic-node']).optional(),
    region: z.string().optional(),
    credentials: z
      .object({ appliance: Account.optional(), login: Account.optional() })
      .strict()
      .optional(),
  })
  .strict();
export type InventoryAppliance = z.infer<typeof InventoryAppliance>;

export const Inventory = z
  .object({
    version: z.literal(1, { message: 'must be 1' }),
    site: z
      .object({
        /** The name clients connect to; with the hosts-file or dns switch it is what is probed. */
        hostname: z
          .string()
          .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name, e.g. support.example.com')
          .optional(),
        /** host:port clients use (the shared IP, or what DNS/NAT points at); probed every 50 ms. */
        address: Address,
        /**
         * hosts-file switch: the hosts file the site's clients read (relative to the inventory).
         * The orchestrator resolves the hostname through it, so it follows the switch as they do.
         */
        hostsFile: z.string().min(1).optional(),
      })
      .strict(),
    credentials: z.object({ appliance: Account, login: Account }).strict(),
    trafficSwitch: z
      .object({
        method: z.enum([
          'shared-ip',
          'hosts-file',
          'dns',
          'nat-forwarder',
          'nat-command',
          // A load balancer checking GET /health/primary (docs/failover.md): site.address is its front.
          'load-balancer',
          'none',
        ]),
      })
      .strict(),
    appliances: z.array(InventoryAppliance).min(1, 'must list at least one appliance'),
  })
  .strict()
  .superRefine((inv, ctx) => {
    const m = inv.trafficSwitch.method;
    if ((m === 'hosts-file' || m === 'dns') && !inv.site.hostname)
      ctx.addIssue({
        code: 'custom',
        path: ['site', 'hostname'],
        message: `is required with trafficSwitch.method ${m}: the name the switch points at`,
      });
    if (inv.site.hostsFile && m !== 'hosts-file')
      ctx.addIssue({
        code: 'custom',
        path: ['site', 'hostsFile'],
        message: `is only used with trafficSwitch.method hosts-file (this inventory says ${m})`,
      });
  });
export type Inventory = z.infer<typeof Inventory>;

export interface LoadedInventory extends Inventory {
  file: string;
}

function inventoryError(file: string, fields: FieldError[]): GatehouseError {
  return orchestratorErrors.INVENTORY_INVALID(
    `${file} is not a valid inventory: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}. See docs/orchestrator.md for the format.`,
    { fields },
  );
}

/** Read and validate an inventory file; every problem names its place in the file. */
export function loadInventory(file: string): LoadedInventory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw orchestratorErrors.INVENTORY_UNREADABLE(
      `--inventory ${file}: cannot be read (${(e as NodeJS.ErrnoException).code}). Give the path of the deployment's inventory YAML.`,
      { fields: [{ field: '--inventory', message: 'cannot be read' }] },
    );
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length)
    throw inventoryError(
      file,
      doc.errors.map((e) => ({
        field: `line ${e.linePos?.[0]?.line ?? '?'}`,
        message: e.message.split('\n')[0]!,
      })),
    );
  const parsed = Inventory.safeParse(doc.toJS());
  if (!parsed.success)
    throw inventoryError(
      file,
      parsed.error.issues.map((i) => ({
        field: i.path.join('.') || '(top)',
        message: i.code === 'unrecognized_keys' ? `unknown field ${i.keys.join(', ')}` : i.message,
      })),
    );
  const names = parsed.data.appliances.map((a) => a.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup)
    throw inventoryError(file, [{ field: 'appliances', message: `"${dup}" is listed twice` }]);
  return { ...parsed.data, file: path.resolve(file) };
}

/** A password from where the inventory says: the environment or a file (relative to the inventory). */
export function readSecret(
  inv: LoadedInventory,
  secret: z.infer<typeof Secret>,
  field: string,
): string {
  if (secret.env) {
    const value = process.env[secret.env];
    if (!value)
      throw orchestratorErrors.INVENTORY_SECRET_MISSING(
        `${field}: the environment variable ${secret.env} is not set. Export it before running \`gatehouse upgrade\`.`,
        { fields: [{ field, message: `${secret.env} is not set` }] },
      );
    return value;
  }
  const file = path.resolve(path.dirname(inv.file), secret.file!);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw orchestratorErrors.INVENTORY_SECRET_MISSING(
      `${field}: ${file} cannot be read (${(e as NodeJS.ErrnoException).code}).`,
      { fields: [{ field, message: 'cannot be read' }] },
    );
  }
}

export function credentialsOf(inv: LoadedInventory, a: InventoryAppliance) {
  const i = inv.appliances.indexOf(a);
  const appliance = a.credentials?.appliance ?? inv.credentials.appliance;
  const login = a.credentials?.login ?? inv.credentials.login;
  return {
    appliance: {
      username: appliance.username,
      password: readSecret(
        inv,
        appliance.password,
        a.credentials?.appliance
          ? `appliances.${i}.credentials.appliance.password`
          : 'credentials.appliance.password',
      ),
    },
    login: {
      username: login.username,
      password: readSecret(
        inv,
        login.password,
        a.credentials?.login
          ? `appliances.${i}.credentials.login.password`
          : 'credentials.login.password',
      ),
    },
  };
}

/** Write an inventory as YAML (the lab does, for its own deployment). */
export async function inventoryYaml(inv: Inventory): Promise<string> {
  const { stringify } = await import('yaml');
  return `# Gatehouse deployment inventory (docs/orchestrator.md)\n${stringify(Inventory.parse(inv))}`;
}
