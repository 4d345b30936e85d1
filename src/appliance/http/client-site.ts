import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatehouseError } from '../../shared/errors.js';
import { compareVersions } from '../../shared/version.js';
import { verifyTicket, type TicketKind } from '../../sessions/tickets.js';
import type { Appliance } from '../context.js';

/** What every client route shares: the site's checks of the caller and what clients learn. */

export const Version = z
  .string()
  .regex(/^\d+\.\d+\.\d+$/, 'must be a version such as 1.4.0')
  .optional();
/**
 * The checked claims of the client ticket a request bears (Authorization: Bearer): signed by
 * the site, unexpired, and not revoked since (its user, its Jump Client installation).
 */
export function ticketOf<K extends TicketKind>(appliance: Appliance, req: FastifyRequest, kind: K) {
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
export function requireSite(appliance: Appliance, kind = 'jump-client'): void {
  if (!appliance.acceptsClients) {
    appliance.clients.records.refused('NOT_ACCEPTING_CLIENTS', kind);
    throw new GatehouseError(
      'NOT_ACCEPTING_CLIENTS',
      503,
      'This appliance is a failover backup and accepts no clients. Use the site hostname, which points at the primary.',
    );
  }
}

export function newerClient(appliance: Appliance, version: string | undefined): void {
  if (version && compareVersions(version, appliance.productVersion) > 0)
    throw new GatehouseError(
      'CLIENT_NEWER_THAN_SITE',
      426,
      `This client runs ${version}, newer than the site's ${appliance.productVersion}; it stays offline until the site runs its version.`,
      {
        fields: [
          { field: 'version', message: `must not be newer than ${appliance.productVersion}` },
        ],
      },
    );
}

export const site = (appliance: Appliance) => ({
  name: appliance.settings.get().siteName,
  appliance: appliance.identity.name,
  productVersion: appliance.productVersion,
  // The site hostname may lead to any of these after a failover: clients trust them all.
  fingerprints: [
    appliance.certificateFingerprint,
    ...(appliance.failover.view() ? [appliance.failover.view()!.peer.fingerprint] : []),
    ...appliance.clusterNodes.list().map((n) => n.fingerprint),
  ],
});
