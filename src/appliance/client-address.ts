import { isIP } from 'node:net';
import { z } from 'zod';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import { ApplianceSetting } from '../store/appliance-settings.js';

const DNS_NAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `host` empty clears the setting. */
export const ClientAddressInput = z
  .object({
    host: z
      .string({ message: 'is required' })
      .trim()
      .max(253, 'must be at most 253 characters')
      .refine(
        (v) => v === '' || isIP(v) !== 0 || DNS_NAME.test(v),
        'must be an IP address or a DNS name such as gatehouse-b.example.com (empty: none)',
      ),
    port: z
      .number({ message: 'must be a TCP port number' })
      .int('must be a whole number')
      .min(1, 'must be 1 to 65535')
      .max(65535, 'must be 1 to 65535'),
  })
  .strict();
export type ClientAddress = z.infer<typeof ClientAddressInput>;

/**
 * Networking > Client Address: where the site's clients reach this appliance directly (its
 * public address), when that is not its inter-appliance address (a private link between a
 * failover pair, NAT). A primary that becomes the backup sends its clients straight to its peer:
 * to the peer's client address when the peer has one (it says so as it takes the role), else to
 * its inter-appliance address (S14). Kept in appliance_settings: this appliance's own, never
 * synchronised.
 */
export class ClientAddressSetting extends ApplianceSetting<ClientAddress> {
  constructor(
    db: Db,
    private readonly events: EventLog,
  ) {
    super(db, 'client-address');
  }

  set(actor: Actor, input: ClientAddress): ClientAddress | undefined {
    if (input.host === '') this.delete();
    else this.write(input);
    this.events.record(actor, 'network.client-address.changed', input.host || '(none)', {
      ...(input.host ? { port: input.port } : {}),
    });
    return this.get();
  }
}
