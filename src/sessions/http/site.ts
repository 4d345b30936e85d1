import type { EventLog } from '../../site/events.js';
import type { InterApplianceKey } from '../../site/security.js';
import type { SiteSettingsService } from '../../site/settings.js';
import type { JumpClientIdentities } from '../jump-client-identities.js';
import type { ClientRouting } from '../routing.js';
import type { JumpClientUpgrades } from '../jump-client-upgrades.js';

/**
 * What /login > Jump Clients and its admin API need of the appliance they run in: the Jump
 * Client identities (tokens, installations, the legacy window), the Jump Clients connected
 * anywhere in the site, the site hostname and this appliance's certificate and version (the
 * install command and the version tags), the Inter-Appliance key the legacy site key derives
 * from, and the event log.
 */
export interface JumpClientsSite {
  readonly jumpClientIdentities: JumpClientIdentities;
  readonly routing: Pick<ClientRouting, 'jumpClients'>;
  readonly settings: Pick<SiteSettingsService, 'get'>;
  readonly productVersion: string;
  readonly certificateFingerprint: string;
  readonly interApplianceKey: Pick<InterApplianceKey, 'get'>;
  readonly events: Pick<EventLog, 'record'>;
  /** The Jump Clients connected here upgrading to this version in waves (S13). */
  readonly clients: { readonly upgrades: Pick<JumpClientUpgrades, 'status' | 'resume'> };
}
