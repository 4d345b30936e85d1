import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomToken } from '../../shared/crypto.js';
import type { Area } from '../../shared/http/operations.js';
import { formatTime, html } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import type { PageHost } from '../../shared/web/kit.js';
import type { Appliance } from '../context.js';
import { PRE_SESSION_COOKIE, sessionCookie } from '../http/auth.js';

/** A page wired in src/appliance/: its handler sees the whole appliance. */
export type PageContext = kit.PageContext<Appliance>;
export type Pages = kit.Pages<Appliance>;

/**
 * What a backup shows of /login (S15: "extraneous tabs are removed from the backup site"): the
 * pages registered with `hiddenOnBackup` (src/failover/http/backup-guard.ts) take their links
 * with them: users, configuration, file store, syslog forwarding (site settings), Jump Clients
 * (a backup accepts no clients) and the cluster (the primary node manages it; the backup takes
 * it over when it becomes primary, S17). Shown: Logs (its own history, merged with the
 * primary's), Management > Security (its own Inter-Appliance key, which the pair needs),
 * Failover, Status (this appliance).
 */
const navigations = new WeakMap<Appliance, kit.Navigation>();
const navigationOf = (appliance: Appliance) => {
  let nav = navigations.get(appliance);
  if (!nav) navigations.set(appliance, (nav = new kit.Navigation()));
  return nav;
};

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
    nav: navigationOf(appliance),
    banner: (area) => (area === 'login' ? upgradeBanner(appliance) : undefined),
    navigation(area) {
      const { shown, hidden } = navigationOf(appliance).of(area);
      if (!hidden.length) return { links: shown };
      const primary = appliance.failover.view()?.peer.name ?? 'the primary';
      const note = html`<p class="muted small" id="nav-backup-note">
        ${listed(hidden.map((n) => n.label))} are hidden: this appliance is the backup of
        "${primary}", which manages them (and copies the site's data here).
      </p>`;
      return { links: shown, note };
    },
  };
}

/** S23: the old primary during an upgrade; static/confirm-overwrite.js asks each form to confirm. */
function upgradeBanner(appliance: Appliance) {
  const n = appliance.upgradeNotice.get();
  if (!n) return undefined;
  return html`<div class="notice warn" id="upgrade-banner" role="alert">
      <strong>Do not make changes on this appliance: an upgrade of its site is in progress</strong>
      (since ${formatTime(n.since)}, by ${n.by}${n.note ? html`: ${n.note}` : ''}). Its site data is
      overwritten by the first sync after the upgrade, and so is any change made here now: make
      changes on the new primary. Each change here asks you to confirm that.
    </div>
    <script src="/static/confirm-overwrite.js" defer></script>`;
}

/** The page registrar of one area, for pages that see the whole appliance. */
export const pages = (
  app: FastifyInstance,
  appliance: Appliance,
  area: Area,
  guard?: kit.PageGuard,
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
