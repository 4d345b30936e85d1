import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  formatBytes,
  formatTime,
  html,
  signInInput,
  tableHead,
  tableOf,
} from '../../shared/web/html.js';
import { isGatehouseError } from '../../shared/errors.js';
import type { AdminSession } from './admin-auth.js';
import type { UpdateServer } from './update-server.js';
import { button, notice, page, sendPage } from './page.js';
import { forgetAppliance, resetDownloads } from './operator.js';
import {
  enrolmentCells,
  enrolmentSections,
  registerEnrolmentPages,
  revokeButton,
} from './pages-enrolment.js';
import { sharedErrors } from '../../shared/error-codes.js';

/**
 * The operator's pages: sign-in, the published packages, the appliances met and their download
 * records, each with a Reset that makes packages available to that appliance again (S11).
 */
export function registerAdminPages(app: FastifyInstance, server: UpdateServer): void {
  const { auth } = server;

  app.get('/admin/sign-in', async (req, reply) => {
    if (auth.session(req)) return reply.redirect('/admin', 303);
    return sendPage(reply, signInPage(auth.preSessionToken(req, reply)));
  });

  app.post('/admin/sign-in', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!auth.checkPreSessionToken(req, body._csrf))
      return sendPage(
        reply,
        signInPage(auth.preSessionToken(req, reply), formExpired().message),
        403,
      );
    try {
      const session = await auth.signIn(
        typeof body.password === 'string' ? body.password : '',
        req.ip,
      );
      auth.setSessionCookie(reply, session.token);
      req.log.info({ ip: req.ip }, 'operator signed in');
      return reply.redirect('/admin', 303);
    } catch (e) {
      if (!isGatehouseError(e)) throw e;
      req.log.warn({ ip: req.ip, code: e.code }, 'operator sign-in refused');
      return sendPage(reply, signInPage(auth.preSessionToken(req, reply), e.message), e.status);
    }
  });

  /** A page or form of the signed-in operator; without a session, to the sign-in page. */
  const guarded =
    (handler: (session: AdminSession, req: FastifyRequest, reply: FastifyReply) => unknown) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const session = auth.session(req);
      if (!session) return reply.redirect('/admin/sign-in', 303);
      if (req.method === 'POST') {
        const body = (req.body ?? {}) as Record<string, unknown>;
        if (!auth.checkCsrf(session.csrfToken, body._csrf)) throw formExpired();
      }
      return handler(session, req, reply);
    };

  app.get(
    '/admin',
    guarded((session, req, reply) => {
      const notice = (req.query as Record<string, unknown>).notice;
      return sendPage(reply, adminPage(server, session, typeof notice === 'string' ? notice : ''));
    }),
  );

  app.post(
    '/admin/reset',
    guarded((_session, req, reply) => {
      const body = (req.body ?? {}) as Record<string, string | undefined>;
      const result = resetDownloads(server.store, {
        appliance: body.appliance ?? '',
        sha256: body.package || undefined,
      });
      req.log.info(
        { appliance: body.appliance, package: body.package, reset: result.reset },
        'downloads reset',
      );
      return notice(
        reply,
        `${result.reset} download record(s) of ${body.appliance} reset: available to it again.`,
      );
    }),
  );

  app.post(
    '/admin/forget',
    guarded((_session, req, reply) => {
      const name = ((req.body ?? {}) as Record<string, string | undefined>).appliance ?? '';
      forgetAppliance(server.store, name);
      req.log.info({ appliance: name, ip: req.ip }, 'appliance forgotten');
      return notice(
        reply,
        `${name} forgotten: it must be enrolled again (registration token or approval).`,
      );
    }),
  );

  registerEnrolmentPages(app, server, guarded);

  app.post(
    '/admin/sign-out',
    guarded((session, _req, reply) => {
      auth.signOut(session);
      auth.clearSessionCookie(reply);
      return reply.redirect('/admin/sign-in', 303);
    }),
  );
}

const formExpired = () =>
  sharedErrors.CSRF_TOKEN_INVALID(
    'This form expired or did not come from this update server. Reload the page and submit it again.',
  );

function signInPage(csrf: string, error?: string) {
  return page(
    'Update server operator',
    html`${error ? html`<p class="error" role="alert" id="sign-in-error">${error}</p>` : ''}
      <form method="post" action="/admin/sign-in" id="sign-in-form">
        <input type="hidden" name="_csrf" value="${csrf}" />
        ${signInInput('Operator password', 'password', { autofocus: true })}
        <button type="submit">Sign in</button>
      </form>`,
  );
}

function adminPage(server: UpdateServer, session: AdminSession, message: string) {
  const packages = server.store.packages();
  const appliances = server.store.appliances();
  const downloads = server.store.downloads();
  const nav = html`<form method="post" action="/admin/sign-out" class="signout">
    <input type="hidden" name="_csrf" value="${session.csrfToken}" />
    <span>operator</span> <button type="submit" class="link">Sign out</button>
  </form>`;
  return page(
    'Published updates',
    html`${message ? html`<p class="notice" role="status">${message}</p>` : ''}
      <table class="list" id="published">
        ${tableHead(['Update', 'Version', 'Requires', 'Size', 'SHA-256', 'Published'])}
        <tbody>
          ${
            packages.length === 0
              ? html`<tr class="empty">
                  <td colspan="6">
                    Nothing is published yet:
                    <code>gatehouse update-server publish FILE --data-dir DIR</code>.
                  </td>
                </tr>`
              : packages.map(
                  (p) =>
                    html`<tr data-sha256="${p.sha256}">
                      <td>${p.kind}</td>
                      <td>${p.version}</td>
                      <td>${p.requires.base ? `base ${p.requires.base}` : '—'}</td>
                      <td class="nowrap">${formatBytes(p.size)}</td>
                      <td><code class="small">${p.sha256}</code></td>
                      <td class="nowrap">${formatTime(p.publishedAt)}</td>
                    </tr>`,
                )
          }
        </tbody>
      </table>
      <h2>Appliances</h2>
      <table class="list" id="appliances">
        ${tableOf(
          [
            'Appliance',
            'Enrolled by',
            'Identity key fingerprint',
            'Runs',
            'Last seen',
            ['', 'actions'],
          ],
          appliances,
          'No appliance is enrolled yet.',
          (a) =>
            html`<tr data-appliance="${a.name}">
              <td>${a.name}</td>
              ${enrolmentCells(session, a)}
              <td>product ${a.product}, base ${a.base}</td>
              <td class="nowrap">${formatTime(a.lastSeenAt)}</td>
              <td class="actions">
                ${button(session, '/admin/reset', { appliance: a.name }, 'Reset all downloads')}
                ${revokeButton(session, a)}
                ${button(session, '/admin/forget', { appliance: a.name }, 'Forget', 'danger')}
              </td>
            </tr>`,
        )}
      </table>
      ${enrolmentSections(server, session)}
      <h2>Downloads</h2>
      <p class="note">
        A downloaded update is no longer offered to that appliance. Reset makes it available again.
      </p>
      <table class="list" id="downloads">
        ${tableOf(
          ['Appliance', 'Update', 'Via', 'Downloaded', ['', 'actions']],
          downloads,
          'No downloads recorded.',
          (d) =>
            html`<tr data-appliance="${d.appliance}" data-sha256="${d.sha256}">
              <td>${d.appliance}</td>
              <td>${d.kind} ${d.version}</td>
              <td>${d.via === 'api' ? 'appliance' : 'download key'}</td>
              <td class="nowrap">${formatTime(d.at)}</td>
              <td class="actions">
                ${button(session, '/admin/reset', { appliance: d.appliance, package: d.sha256 }, 'Reset')}
              </td>
            </tr>`,
        )}
      </table>`,
    { nav },
  );
}
