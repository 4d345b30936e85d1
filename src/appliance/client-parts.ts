import type { Actor } from '../shared/actor.js';
import { PRODUCT_VERSION } from '../shared/version.js';
import type { EventLog } from '../site/events.js';
import type { InterApplianceKey } from '../site/security.js';
import type { SiteSettingsService } from '../site/settings.js';
import type { UserDirectory } from '../site/users.js';
import type { NodeMembership } from '../cluster/nodes-store.js';
import { site, type ClientSite } from '../sessions/http/client-site.js';
import { ClientGateway } from '../sessions/gateway.js';
import { configChanges, JumpClientIdentities } from '../sessions/jump-client-identities.js';
import { SessionRecords } from '../sessions/session-records.js';
import { jumpClientKeyOf, type TicketClaims } from '../sessions/tickets.js';
import type { ApplianceBasics } from './wiring.js';

/** What the client gateway is wired to in a running appliance (the `Appliance` is one). */
export interface ClientWiring extends ApplianceBasics {
  readonly interApplianceKey: Pick<InterApplianceKey, 'get'>;
  readonly settings: Pick<SiteSettingsService, 'get'>;
  readonly membership: Pick<NodeMembership, 'get'>;
  readonly acceptsClients: boolean;
  checkClient(claims: TicketClaims): void;
  log(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * The session records, the Jump Client identities and the client gateway of an appliance, and
 * what the gateway asks of the rest of it: the site's key, whether clients are accepted here,
 * the revocation checks, the Jump Client upgrade waves of the site settings.
 */
export function clientParts(a: ClientWiring) {
  const records = new SessionRecords(a.db, a.blobs, a.events, a.dir.activeRecordings);
  const identities = new JumpClientIdentities(
    a.db,
    a.events,
    () => a.interApplianceKey.get(),
    () => jumpClientKeyOf(a.interApplianceKey.get()),
  );
  const gateway = new ClientGateway({
    name: a.identity.name,
    version: PRODUCT_VERSION,
    interApplianceKey: () => a.interApplianceKey.get(),
    acceptsClients: () => a.acceptsClients,
    acceptsNewClients: () => a.membership.get()?.accepting ?? true,
    checkClient: (claims) => a.checkClient(claims),
    configVersion: () => configChanges(a.db).n,
    records,
    events: a.events,
    activeRecordingsDir: a.dir.activeRecordings,
    // Tests shorten the resume window to see a session end when it passes.
    resumeWindowMs: Number(process.env.GATEHOUSE_RESUME_WINDOW_MS) || undefined,
    upgradeWaves: () => {
      const s = a.settings.get();
      return {
        waveSize: s.jumpClientUpgradeWaveSize,
        canaryGroup: s.jumpClientUpgradeCanaryGroup,
        canarySize: s.jumpClientUpgradeCanarySize,
        returnSeconds: s.jumpClientUpgradeReturnSeconds,
      };
    },
    log: (msg, fields) => a.log(msg, fields),
  });
  return { records, identities, gateway };
}

/**
 * Whether the site still honours a client's ticket: its user still enabled at the ticket's
 * generation, its Jump Client installation not revoked nor its name taken by another.
 */
export function checkClientTicket(
  a: {
    readonly users: Pick<UserDirectory, 'checkTicketHolder'>;
    readonly jumpClientIdentities: Pick<JumpClientIdentities, 'checkTicket'>;
  },
  claims: TicketClaims,
): void {
  if (claims.kind === 'jump-client') return a.jumpClientIdentities.checkTicket(claims);
  if (claims.sub.startsWith('jump-client:')) return;
  // A resume token's `gen` counts the session's parts; `ugen` is the user's ticket generation
  // (absent in a token of the previous release, which is checked for the user alone).
  if (claims.kind === 'resume')
    return a.users.checkTicketHolder(
      { sub: claims.sub, uid: claims.uid, gen: claims.ugen },
      claims.ugen !== undefined,
    );
  a.users.checkTicketHolder(claims);
}

/**
 * What a Jump Client installer names (S13): the site hostname when one is set (else the
 * address the administrator's browser used), the port, and every certificate the site may
 * answer with.
 */
export function installerSite(
  a: ClientSite & { readonly listenAddress: { host: string; port: number } },
  requestHost: string,
) {
  const info = site(a);
  const port = /:(\d+)$/.exec(requestHost)?.[1] ?? String(a.listenAddress.port);
  const hostname = a.settings.get().siteHostname;
  return {
    name: info.name,
    address: hostname ? `${hostname}:${port}` : requestHost || `${a.listenAddress.host}:${port}`,
    fingerprints: info.fingerprints,
    siteCa: info.siteCa,
  };
}

/**
 * Ask every connected client to reconnect through the site hostname (after a DNS or NAT
 * swing away from this appliance); sessions in progress go on. Returns how many were asked.
 */
export function sendClientsToSite(
  a: {
    readonly clients: Pick<ClientGateway, 'list' | 'moveAll'>;
    readonly events: Pick<EventLog, 'record'>;
    readonly identity: { readonly name: string };
  },
  actor: Actor,
): number {
  const asked = a.clients.list().length;
  a.clients.moveAll('an administrator sent the clients to the site');
  a.events.record(actor, 'clients.sent-to-site', a.identity.name, { asked });
  return asked;
}
