import type { FastifyRequest } from 'fastify';
import { z } from 'zod';

import { compareVersions } from '../../shared/version.js';
import type { EventLog } from '../../site/events.js';
import type { InterApplianceKey } from '../../site/security.js';
import type { SiteSettingsService } from '../../site/settings.js';
import type { UserDirectory } from '../../site/users.js';
import type { Area } from '../../shared/http/operations.js';
import type { LoginThrottle } from '../../shared/throttle.js';
import type { CustomerKeys } from '../customer-keys.js';
import type { ClientGateway } from '../gateway.js';
import type { JumpClientIdentities } from '../jump-client-identities.js';
import type { ClientRouting } from '../routing.js';
import type { SessionRecords } from '../session-records.js';
import { verifyTicket, type TicketClaims, type TicketKind } from '../tickets.js';
import { sessionsErrors } from '../error-codes.js';

/**
 * What the clients' API (consoles, Jump Clients, customer clients: /api/client/*) needs of the
 * appliance that serves it: the site's users, settings and key, where clients go, the
 * connected clients and the session records, the sign-in checks, and whom the clients trust.
 */
export interface ClientSite {
  readonly identity: { readonly name: string };
  readonly productVersion: string;
  readonly certificateFingerprint: string;
  /** The site certificate authority clients pin (S20). */
  readonly siteIdentity: { readonly fingerprint: string };
  /** False on a failover backup: clients go to the primary. */
  readonly acceptsClients: boolean;
  readonly settings: Pick<SiteSettingsService, 'get'>;
  readonly users: Pick<UserDirectory, 'find' | 'get'>;
  readonly events: Pick<EventLog, 'record'>;
  readonly interApplianceKey: Pick<InterApplianceKey, 'get'>;
  readonly routing: ClientRouting;
  readonly clients: Pick<ClientGateway, 'records' | 'liveSessions' | 'apiConnections'>;
  readonly customerKeys: CustomerKeys;
  readonly sessionRecords: SessionRecords;
  readonly jumpClientIdentities: JumpClientIdentities;
  readonly auth: {
    /** Per-address throttle of the client keys (Jump Client key, session keys). */
    readonly throttle: Pick<LoginThrottle, 'check' | 'fail'>;
    checkCredentials(
      area: Area,
      username: string,
      password: string,
      ip: string,
      needs: 'administrator' | 'representative',
    ): Promise<{ username: string }>;
  };
  /** Whether this appliance still honours a client's ticket (its user, its installation). */
  checkClient(claims: TicketClaims): void;
  /** The failover peer, whose certificate clients trust too. */
  readonly failover: { view(): { peer: { fingerprint: string } } | undefined };
  /** The cluster's traffic nodes, whose certificates clients trust too. */
  readonly clusterNodes: { list(): { fingerprint: string }[] };
}

// What every client route shares: the site's checks of the caller and what clients learn.

export const Version = z
  .string()
  .regex(/^\d+\.\d+\.\d+$/, 'must be a version such as 1.4.0')
  .optional();
/**
 * The checked claims of the client ticket a request bears (Authorization: Bearer): signed by
 * the site, unexpired, and not revoked since (its user, its Jump Client installation).
 */
export function ticketOf<K extends TicketKind>(
  appliance: ClientSite,
  req: FastifyRequest,
  kind: K,
) {
  const h = req.headers.authorization;
  const claims = verifyTicket(
    appliance.interApplianceKey.get(),
    h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined,
    kind,
  );
  appliance.checkClient(claims);
  return claims;
}

/** Clients connect to the appliance the site hostname names; a backup sends them away. */
export function requireSite(appliance: ClientSite, kind = 'jump-client'): void {
  if (!appliance.acceptsClients) {
    appliance.clients.records.refused('NOT_ACCEPTING_CLIENTS', kind);
    throw sessionsErrors.NOT_ACCEPTING_CLIENTS(
      'This appliance is a failover backup and accepts no clients. Use the site hostname, which points at the primary.',
    );
  }
}

export function newerClient(appliance: ClientSite, version: string | undefined): void {
  if (version && compareVersions(version, appliance.productVersion) > 0)
    throw sessionsErrors.CLIENT_NEWER_THAN_SITE(
      `This client runs ${version}, newer than the site's ${appliance.productVersion}; it stays offline until the site runs its version.`,
      {
        fields: [
          { field: 'version', message: `must not be newer than ${appliance.productVersion}` },
        ],
      },
    );
}

export const site = (appliance: ClientSite) => ({
  name: appliance.settings.get().siteName,
  appliance: appliance.identity.name,
  productVersion: appliance.productVersion,
  // The site's certificate authority: clients pin it from now on, whichever appliance answers.
  siteCa: appliance.siteIdentity.fingerprint,
  // The site hostname may lead to any of these after a failover: clients trust them all.
  fingerprints: [
    appliance.certificateFingerprint,
    ...(appliance.failover.view() ? [appliance.failover.view()!.peer.fingerprint] : []),
    ...appliance.clusterNodes.list().map((n) => n.fingerprint),
  ],
});
