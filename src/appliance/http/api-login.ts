import { applianceOperationsOf, type ApplianceOperation } from './operation.js';

const op = applianceOperationsOf({ area: 'login', tag: 'login' });

/** /login > Status: connected clients, and sending them to the site. */
export const loginOperations: ApplianceOperation[] = [
  op('statusInformation', 'GET /api/login/status/information', {
    summary: 'Status > Information: connected clients and their sessions',
    response: { status: 200, description: 'Connected clients' },
    handler: ({ appliance }) => ({
      appliance: appliance.identity.name,
      role: appliance.role,
      // A reader (the Integration Client) tells from these whether it reads the site's primary.
      cluster: appliance.standing.cluster,
      siteHostname: appliance.settings.get().siteHostname || null,
      fingerprint: appliance.certificateFingerprint,
      // The site's identity, the same on every appliance of the site: what clients pin (S20).
      siteCa: appliance.siteIdentity.fingerprint,
      productVersion: appliance.productVersion,
      connectedClients: appliance.clients.list(),
      // S13: the Jump Clients' upgrade to this version, wave by wave.
      jumpClientUpgrades: appliance.clients.upgrades.status(),
    }),
  }),
  op('sendClientsToSite', 'POST /api/login/status/clients/reconnect', {
    summary:
      'Ask every connected client to reconnect through the site hostname (after a DNS or NAT swing away from this appliance); sessions in progress go on',
    response: { status: 200, description: 'How many clients were asked' },
    handler: ({ appliance, actor }) => ({ asked: appliance.sendClientsToSite(actor) }),
  }),
];
