import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomToken } from '../../shared/crypto.js';
import type { Area, RouteGuard } from '../../shared/http/operations.js';
import { html } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import type { NavLink, PageHost } from '../../shared/web/kit.js';
import type { Appliance } from '../context.js';
import { PRE_SESSION_COOKIE, sessionCookie } from '../http/auth.js';

/** A page wired in src/appliance/: its handler sees the whole appliance. */
export type PageContext = kit.PageContext<Appliance>;
export type Pages = kit.Pages<Appliance>;

const NAV: Record<Area, NavLink[]> = {
  appliance: [
    { href: '/appliance/status', label: 'Status' },
    { href: '/appliance/networking', label: 'Networking' },
    { href: '/appliance/networking/traffic', label: 'Networking > Traffic Switch' },
    { href: '/appliance/updates', label: 'Updates' },
    { href: '/appliance/backup', label: 'Backup' },
    { href: '/appliance/monitoring', label: 'Monitoring' },
  ],
  login: [
    { href: '/login/users', label: 'Users' },
    { href: '/login/configuration', label: 'Configuration' },
    { href: '/login/files', label: 'File Store' },
    { href: '/login/logs', label: 'Logs' },
    { href: '/login/jump-clients', label: 'Jump Clients' },
    { href: '/login/management/security', label: 'Management > Security' },
    { href: '/login/failover', label: 'Management > Failover' },
    { href: '/login/management/cluster', label: 'Management > Cluster' },
    { href: '/login/management/syslog', label: 'Management > Syslog' },
    { href: '/login/status/information', label: 'Status' },
  ],
};

/**
 * What a backup shows of /login (S15: "extraneous tabs are removed from the backup site"). Shown:
 * Logs (its own history, sync and role changes, merged with the primary's), Management >
 * Security (its own Inter-Appliance key, which the pair needs), Failover, Status (this
 * appliance). Hidden: what the primary manages and synchronisation overwrites or what a backup
 * does not do: users, configuration, file store, syslog forwarding (site settings), Jump Clients
 * (a backup accepts no clients) and the cluster (the primary node manages it; the backup takes
 * it over when it becomes primary, S17).
 */
export const BACKUP_HIDDEN = new Set([
  '/login/users',
  '/login/configuration',
  '/login/files',
  '/login/jump-clients',
  '/login/management/cluster',
  '/login/management/syslog',
]);

/** "A, B and C". */
const listed = (items: string[]) =>
  items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items.at(-1)}` : (items[0] ?? '');

/** How the appliance hosts pages: its sessions, its header and its navigation. */
export function pageHost(appliance: Appliance): PageHost<Appliance> {
  return {
    context: appliance,
    authenticate: (area, req) =>
      appliance.auth.authenticate(area, req.cookies[sessionCookie(area)]),
    checkCsrf: (expected, given) => appliance.auth.checkCsrf(expected, given),
    header: () => ({
      name: appliance.identity.name,
      role: appliance.role,
      productVersion: appliance.productVersion,
    }),
    navigation(area) {
      const backup = area === 'login' && appliance.role === 'backup';
      const links = NAV[area].filter((n) => !(backup && BACKUP_HIDDEN.has(n.href)));
      if (!backup) return { links };
      const hidden = NAV.login.filter((n) => BACKUP_HIDDEN.has(n.href)).map((n) => n.label);
      const primary = appliance.failover.view()?.peer.name ?? 'the primary';
      const note = html`<p class="muted small" id="nav-backup-note">
        ${listed(hidden)} are hidden: this appliance is the backup of "${primary}", which manages
        them (and copies the site's data here).
      </p>`;
      return { links, note };
    },
  };
}

/** The page registrar of one area, for pages that see the whole appliance. */
export const pages = (
  app: FastifyInstance,
  appliance: Appliance,
  area: Area,
  guard?: RouteGuard,
): Pages => kit.pages(app, pageHost(appliance), area, guard);

/** Pre-session CSRF for the sign-in forms: a random cookie and the HMAC of it in the form. */
export function preSessionToken(
  appliance: Appliance,
  req: FastifyRequest,
  reply: FastifyReply,
): string {
  let pre = req.cookies[PRE_SESSION_COOKIE];
  if (!pre || pre.length < 20) {
    pre = randomToken(24);
    reply.setCookie(PRE_SESSION_COOKIE, pre, {
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
    });
  }
  return appliance.auth.preSessionCsrf(pre);
}

export function checkPreSessionToken(
  appliance: Appliance,
  req: FastifyRequest,
  given: string | undefined,
): boolean {
  const pre = req.cookies[PRE_SESSION_COOKIE];
  return !!pre && appliance.auth.checkCsrf(appliance.auth.preSessionCsrf(pre), given);
}
