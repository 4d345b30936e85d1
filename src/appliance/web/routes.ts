import type { FastifyInstance } from 'fastify';
import { isGatehouseError } from '../../shared/errors.js';
import type { Appliance } from '../context.js';
import type { Area } from '../../shared/http/operations.js';
import { clearSessionCookie, sessionCookie, signInWithCookies } from '../http/auth.js';
import { html, signInInput } from '../../shared/web/html.js';
import { serveStatic, serveStylesheet } from '../../shared/web/static.js';
import { checkPreSessionToken, preSessionToken } from './page-host.js';
import { registerAppliancePages } from './pages-appliance.js';
import { registerLoginPages } from './pages-login.js';

/** Only same-site paths of the right area may be a post-sign-in destination. */
function safeNext(area: Area, next: unknown): string {
  return typeof next === 'string' && next.startsWith(`/${area}/`) && !next.startsWith('//')
    ? next
    : `/${area}`;
}

function signInPage(
  appliance: Appliance,
  area: Area,
  csrf: string,
  next: string,
  values: { username?: string },
  error?: string,
) {
  const banner = area === 'login' ? appliance.settings.get().loginBanner : '';
  const title =
    area === 'appliance'
      ? 'Appliance administration'
      : `${appliance.settings.get().siteName} — site administration`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · /${area} · ${appliance.identity.name}</title>
        <link rel="stylesheet" href="/static/style.css" />
      </head>
      <body class="sign-in area-${area}">
        <main class="card">
          <div class="brand">
            <span class="logo">▣</span> Gatehouse <span class="area">/${area}</span>
          </div>
          <h1>${title}</h1>
          <p class="muted">${appliance.identity.name} · v${appliance.productVersion}</p>
          ${banner ? html`<p class="banner">${banner}</p>` : ''}
          ${error ? html`<p class="error" role="alert" id="sign-in-error">${error}</p>` : ''}
          <form method="post" action="/${area}/sign-in">
            <input type="hidden" name="_csrf" value="${csrf}" /><input
              type="hidden"
              name="next"
              value="${next}"
            />
            ${signInInput('Username', 'username', { value: values.username, autofocus: true })}
            ${signInInput('Password', 'password')}
            <button type="submit">Sign in</button>
          </form>
          <p class="muted small">
            ${area === 'appliance' ? html`Site administrators sign in at <a href="/login/sign-in">/login</a>.` : html`Appliance administrators sign in at <a href="/appliance/sign-in">/appliance</a>.`}
          </p>
        </main>
      </body>
    </html>`;
}

export function registerWebConsole(app: FastifyInstance, appliance: Appliance): void {
  serveStylesheet(app);
  // The script that keeps Status > Information live.
  serveStatic(app, new URL('./static/', import.meta.url), [
    'information.js',
    'confirm-overwrite.js',
  ]);
  app.get('/', async (_req, reply) => reply.redirect('/login', 303));
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());

  for (const area of ['appliance', 'login'] as const) {
    app.get(`/${area}/sign-in`, async (req, reply) => {
      const next = safeNext(area, (req.query as Record<string, unknown>).next);
      if (appliance.auth.authenticate(area, req.cookies[sessionCookie(area)]))
        return reply.redirect(next, 303);
      return reply
        .type('text/html; charset=utf-8')
        .send(
          String(signInPage(appliance, area, preSessionToken(appliance, req, reply), next, {})),
        );
    });
    app.post(`/${area}/sign-in`, async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, string | undefined>;
      const next = safeNext(area, body.next);
      const again = (status: number, error: string) =>
        reply
          .code(status)
          .type('text/html; charset=utf-8')
          .send(
            String(
              signInPage(
                appliance,
                area,
                preSessionToken(appliance, req, reply),
                next,
                { username: body.username },
                error,
              ),
            ),
          );
      if (!checkPreSessionToken(appliance, req, body._csrf))
        return again(403, 'This sign-in form expired. Enter your username and password again.');
      if (!body.username || !body.password)
        return again(400, 'Enter both a username and a password.');
      try {
        const { username, password } = body;
        await signInWithCookies(appliance, area, { username, password }, req, reply);
        return reply.redirect(next, 303);
      } catch (e) {
        if (!isGatehouseError(e)) throw e;
        if (e.headers['retry-after']) reply.header('retry-after', e.headers['retry-after']);
        return again(e.status, e.message);
      }
    });
    app.post(`/${area}/sign-out`, async (req, reply) => {
      const token = req.cookies[sessionCookie(area)];
      const session = appliance.auth.authenticate(area, token);
      const body = (req.body ?? {}) as Record<string, string | undefined>;
      if (token && session && appliance.auth.checkCsrf(session.csrfToken, body._csrf))
        appliance.auth.logout(area, token, req.ip);
      clearSessionCookie(reply, area);
      return reply.redirect(`/${area}/sign-in`, 303);
    });
  }

  registerAppliancePages(app, appliance);
  registerLoginPages(app, appliance);
}
