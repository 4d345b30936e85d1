import { isIP } from 'node:net';
import { z } from 'zod';
import type { Db } from '../store/db.js';
import { conflict, notFound } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import { applianceErrors } from './error-codes.js';

export const IpAddress = z
  .string({ message: 'is required' })
  .refine((v) => isIP(v) !== 0, 'must be an IPv4 or IPv6 address such as 192.0.2.10');

export const NewAddressInput = z
  .object({
    address: IpAddress,
    kind: z.enum(['unique', 'shared'], { message: "must be 'unique' or 'shared'" }),
    label: z.string().max(100, 'must be at most 100 characters').default(''),
    enabled: z.boolean().default(true),
  })
  .strict();
export type NewAddressInput = z.infer<typeof NewAddressInput>;

export const AddressPatch = z
  .object({
    label: z.string().max(100, 'must be at most 100 characters').optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

export interface NetworkAddress {
  address: string;
  kind: 'unique' | 'shared';
  label: string;
  enabled: boolean;
  updatedAt: number;
}

interface Row {
  address: string;
  kind: 'unique' | 'shared';
  label: string;
  enabled: number;
  updated_at: number;
}

const toAddress = (r: Row): NetworkAddress => ({
  address: r.address,
  kind: r.kind,
  label: r.label,
  enabled: r.enabled === 1,
  updatedAt: r.updated_at,
});

/**
 * /appliance > Networking > IP Configuration: this appliance's own (unique) addresses and the
 * shared addresses that follow the primary role. Only shared addresses can be disabled.
 */
export class NetworkConfig {
  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  list(): NetworkAddress[] {
    return (
      this.db.prepare('SELECT * FROM network_addresses ORDER BY kind DESC, address').all() as Row[]
    ).map(toAddress);
  }

  get(address: string): NetworkAddress {
    const row = this.db
      .prepare('SELECT * FROM network_addresses WHERE address = ?')
      .get(address) as Row | undefined;
    if (!row)
      throw notFound(`Address ${address}`, 'Check the list on Networking > IP Configuration.');
    return toAddress(row);
  }

  add(actor: Actor | null, input: NewAddressInput): NetworkAddress {
    if (input.kind === 'unique' && !input.enabled) throw uniqueAlwaysEnabled();
    this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM network_addresses WHERE address = ?').get(input.address)) {
        throw conflict(
          applianceErrors.ADDRESS_EXISTS,
          `${input.address} is already configured. Edit it instead.`,
          'address',
        );
      }
      this.db
        .prepare(
          'INSERT INTO network_addresses (address, kind, label, enabled, updated_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(input.address, input.kind, input.label, input.enabled ? 1 : 0, Date.now());
      if (actor)
        this.events.record(actor, 'network.address.added', input.address, {
          kind: input.kind,
          enabled: input.enabled,
        });
    })();
    return this.get(input.address);
  }

  update(actor: Actor, address: string, patch: z.infer<typeof AddressPatch>): NetworkAddress {
    this.db.transaction(() => {
      const current = this.get(address);
      if (patch.enabled === false && current.kind === 'unique') throw uniqueAlwaysEnabled();
      this.db
        .prepare(
          'UPDATE network_addresses SET label = ?, enabled = ?, updated_at = ? WHERE address = ?',
        )
        .run(
          patch.label ?? current.label,
          (patch.enabled ?? current.enabled) ? 1 : 0,
          Date.now(),
          address,
        );
      this.events.record(actor, 'network.address.updated', address, patch);
    })();
    return this.get(address);
  }

  remove(actor: Actor, address: string): void {
    this.db.transaction(() => {
      const current = this.get(address);
      if (current.kind === 'unique') {
        const n = this.db
          .prepare(`SELECT count(*) AS n FROM network_addresses WHERE kind = 'unique'`)
          .get() as { n: number };
        if (n.n <= 1) {
          throw conflict(
            applianceErrors.ADDRESS_LAST_UNIQUE,
            `${address} is this appliance's only unique address. Add another unique address first.`,
          );
        }
      }
      this.db.prepare('DELETE FROM network_addresses WHERE address = ?').run(address);
      this.events.record(actor, 'network.address.removed', address, { kind: current.kind });
    })();
  }
}

function uniqueAlwaysEnabled() {
  return applianceErrors.ADDRESS_UNIQUE_ALWAYS_ENABLED(
    'enabled: only shared addresses can be disabled; a unique address belongs to this appliance. Remove it instead.',
    {
      fields: [{ field: 'enabled', message: 'only shared addresses can be disabled' }],
    },
  );
}
