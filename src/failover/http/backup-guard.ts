import type { FastifyRequest } from 'fastify';

import type { RouteGuard } from '../../shared/http/operations.js';
import { redirect, type PageGuard } from '../../shared/web/kit.js';
import type { FailoverRelationship } from '../relationship.js';
import { failoverErrors } from '../error-codes.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const primaryOf = (failover: FailoverRelationship) => failover.view()?.peer.name ?? 'the primary';

/*
 * A backup accepts no site changes: on a backup the site's users, configuration, file store and
 * syslog forwarding belong to the primary (synchronisation overwrites them, S15/S16), and
 * clients and the cluster go to the primary. The routes of those sections declare these guards
 * where they are registered.
 */

/**
 * For the pages a backup hides: they give way to a notice on the Failover page, and their links
 * leave the navigation.
 */
export function hiddenOnBackup(failover: FailoverRelationship): PageGuard {
  const hides = () => failover.role === 'backup';
  const guard: RouteGuard = async (_req, reply) => {
    if (!hides()) return;
    const notice = `This appliance is the backup of "${primaryOf(failover)}": that section is managed on the primary (site data is copied here by synchronisation; clients and the cluster go to the primary).`;
    return redirect(reply, '/login/failover', notice);
  };
  return Object.assign(guard, { hides });
}

/**
 * For the site data's API: reads stay possible, changes are refused. A request without a
 * session (`signedIn` false) is left to the operation, which answers 401.
 */
export function readOnlyOnBackup(
  failover: FailoverRelationship,
  signedIn: (req: FastifyRequest) => boolean,
): RouteGuard {
  return async (req) => {
    if (SAFE.has(req.method) || !signedIn(req)) return;
    if (failover.role === 'primary' && failover.fenced())
      throw failoverErrors.FAILOVER_PRIMARY_FENCED(
        `This primary holds neither its witness's lease nor the backup's promise (it may be cut off, or "${primaryOf(failover)}" may be taking over), so it accepts no changes for now: nothing was changed. Try again in a moment, on whichever appliance is primary.`,
      );
    if (failover.role !== 'backup') {
      // Acknowledged only once `acknowledgeWrite` agrees (the appliance's onSend hook asks).
      (req as { siteWrite?: boolean }).siteWrite = true;
      return;
    }
    const primary = primaryOf(failover);
    throw failoverErrors.FAILOVER_BACKUP_READ_ONLY(
      `This appliance is the backup of "${primary}": users, site settings and the file store are changed on the primary and copied here by synchronisation. Make the change on "${primary}"; nothing was changed here.`,
    );
  };
}
