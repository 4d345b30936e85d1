import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Multipart } from '@fastify/multipart';
import { randomToken } from '../../shared/crypto.js';
import { GatehouseError, isGatehouseError } from '../../shared/errors.js';
import type { Actor } from '../../shared/actor.js';
import type { Appliance } from '../context.js';
import type { Area, AuthSession } from '../../shared/http/operations.js';
import { PRE_SESSION_COOKIE, sessionCookie } from '../http/auth.js';
import { html, type SafeHtml } from '../../shared/web/html.js';

/** What a page handler gets: the signed-in administrator and the appliance. */
export interface PageContext {
  appliance: Appliance;
  auth: AuthSession;
  actor: Actor;
  req: FastifyRequest;
  reply: FastifyReply;
}

export type FieldErrors = Record<string, string>;

const NAV: Record<Area, { href: string; label: string }[]> = {
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

/** The link of the page: the longest one the path starts with. */
const active = (path: string, href: string, links: { href: string }[]) =>
  path.startsWith(href) &&
  !links.some((l) => l.href.length > href.length && path.startsWith(l.href));

function navigation(ctx: PageContext, path: string): SafeHtml {
  const area = ctx.auth.area;
  const backup = area === 'login' && ctx.appliance.role === 'backup';
  const links = NAV[area].filter((n) => !(backup && BACKUP_HIDDEN.has(n.href)));
  const hidden = NAV.login.filter((n) => BACKUP_HIDDEN.has(n.href)).map((n) => n.label);
  const primary = ctx.appliance.failover.view()?.peer.name ?? 'the primary';
  return html`<nav class="side">
    ${links.map(
      (n) =>
        html`<a href="${n.href}" class="${active(path, n.href, links) ? 'active' : ''}"
          >${n.label}</a
        >`,
    )}
    ${
      backup
        ? html`<p class="muted small" id="nav-backup-note">
            ${listed(hidden)} are hidden: this appliance is the backup of "${primary}", which
            manages them (and copies the site's data here).
          </p>`
        : ''
    }
  </nav>`;
}

/**
 * The frame of every signed-in page. `refreshSeconds` reloads the page while something it shows
 * is in progress (a sync, an install).
 */
export function layout(
  ctx: PageContext,
  title: string,
  body: SafeHtml,
  notice?: string,
  opts: { refreshSeconds?: number } = {},
): SafeHtml {
  const { appliance, auth, req } = ctx;
  const path = req.url.split('?')[0]!;
  const fromQuery = (req.query as Record<string, string | undefined>).notice;
  const message = notice ?? fromQuery;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${opts.refreshSeconds ? html`<meta http-equiv="refresh" content="${opts.refreshSeconds}" />` : ''}
        <title>${title} · /${auth.area} · ${appliance.identity.name}</title>
        <link rel="stylesheet" href="/static/style.css" />
      </head>
      <body class="area-${auth.area}">
        <header class="top">
          <div class="brand">
            <span class="logo">▣</span> Gatehouse <span class="area">/${auth.area}</span>
          </div>
          <div class="who">
            ${appliance.identity.name} · ${appliance.role} · v${appliance.productVersion}
          </div>
          <form method="post" action="/${auth.area}/sign-out" class="signout">
            <input type="hidden" name="_csrf" value="${auth.csrfToken}" />
            <span>${auth.principal}</span> <button type="submit" class="link">Sign out</button>
          </form>
        </header>
        ${navigation(ctx, path)}
        <main>
          <h1>${title}</h1>
          ${message ? html`<p class="notice" role="status">${message}</p>` : ''} ${body}
        </main>
      </body>
    </html>`;
}

/** A labelled input with its error, if any, shown beside it. */
export function field(
  label: string,
  name: string,
  value: string | number | undefined,
  errors: FieldErrors,
  opts: { type?: string; help?: string; required?: boolean; autocomplete?: string } = {},
): SafeHtml {
  const error = errors[name];
  return html`<label class="field ${error ? 'has-error' : ''}"
    ><span>${label}</span>
    <input
      name="${name}"
      id="f-${name}"
      type="${opts.type ?? 'text'}"
      value="${value ?? ''}"
      ${opts.required ? html`required` : ''}
      autocomplete="${opts.autocomplete ?? 'off'}"
      aria-invalid="${error ? 'true' : 'false'}"
    />
    ${opts.help ? html`<small class="help">${opts.help}</small>` : ''}
    ${error ? html`<small class="error" id="error-${name}">${error}</small>` : ''}</label
  >`;
}

export function checkbox(
  label: string,
  name: string,
  checked: boolean,
  errors: FieldErrors = {},
): SafeHtml {
  const error = errors[name];
  return html`<label class="check ${error ? 'has-error' : ''}"
    ><input type="checkbox" name="${name}" value="on" ${checked ? html`checked` : ''} /> ${label}
    ${error ? html`<small class="error" id="error-${name}">${error}</small>` : ''}</label
  >`;
}

export const csrfInput = (ctx: PageContext) =>
  html`<input type="hidden" name="_csrf" value="${ctx.auth.csrfToken}" />`;

/** A one-button form (delete, regenerate…) with CSRF and an optional confirmation. */
export function actionButton(ctx: PageContext, action: string, label: string, cls = ''): SafeHtml {
  return html`<form method="post" action="${action}" class="inline">
    ${csrfInput(ctx)}<button type="submit" class="${cls}">${label}</button>
  </form>`;
}

/** A labelled multi-line input, shown like `field`. */
export function textarea(
  label: string,
  name: string,
  value: string,
  errors: FieldErrors,
  opts: { help?: string; rows?: number } = {},
): SafeHtml {
  const error = errors[name];
  return html`<label class="field ${error ? 'has-error' : ''}"
    ><span>${label}</span>
    <textarea
      name="${name}"
      id="f-${name}"
      rows="${opts.rows ?? 3}"
      aria-invalid="${error ? 'true' : 'false'}"
    >
${value}</textarea>
    ${opts.help ? html`<small class="help">${opts.help}</small>` : ''}
    ${error ? html`<small class="error" id="error-${name}">${error}</small>` : ''}</label
  >`;
}

/** A labelled drop-down, shown like `field`. */
export function select(
  label: string,
  name: string,
  options: { value: string; label: string }[],
  value: string,
  errors: FieldErrors,
): SafeHtml {
  const error = errors[name];
  return html`<label class="field ${error ? 'has-error' : ''}"
    ><span>${label}</span>
    <select name="${name}" id="f-${name}" aria-invalid="${error ? 'true' : 'false'}">
      ${options.map(
        (o) =>
          html`<option value="${o.value}" ${o.value === value ? html`selected` : ''}>
            ${o.label}
          </option>`,
      )}
    </select>
    ${error ? html`<small class="error" id="error-${name}">${error}</small>` : ''}</label
  >`;
}

export interface FormProblem {
  fields: FieldErrors;
  message: string;
  status: number;
}

export const NO_PROBLEM: FormProblem = { fields: {}, message: '', status: 200 };

/** Split a GatehouseError into field errors for a form, plus a general message and its status. */
export function formErrors(e: unknown): FormProblem {
  if (!isGatehouseError(e)) throw e;
  const fields: FieldErrors = {};
  for (const f of e.fields) fields[f.field] = f.message;
  return { fields, message: e.message, status: e.status };
}

/**
 * The general message of a failed form, shown above it when some error is not beside one of
 * the form's fields (`shown`), e.g. "last enabled administrator".
 */
export function formAlert(problem: FormProblem, shown: string[]): SafeHtml {
  if (!problem.message) return html``;
  const beside = Object.keys(problem.fields);
  if (beside.length > 0 && beside.every((f) => shown.includes(f))) return html``;
  return html`<p class="error" role="alert" id="form-error">${problem.message}</p>`;
}

/** The fields of a urlencoded form post. */
export const formBody = (ctx: PageContext) =>
  (ctx.req.body ?? {}) as Record<string, string | undefined>;

/** A checkbox arrives as 'on' when ticked and is absent otherwise. */
export const ticked = (v: string | undefined) => v === 'on';

export function redirect(reply: FastifyReply, to: string, notice?: string) {
  return reply.redirect(
    notice ? `${to}${to.includes('?') ? '&' : '?'}notice=${encodeURIComponent(notice)}` : to,
    303,
  );
}

function pageSession(appliance: Appliance, area: Area, req: FastifyRequest): AuthSession | null {
  return appliance.auth.authenticate(area, req.cookies[sessionCookie(area)]);
}

type Handler = (ctx: PageContext) => Promise<unknown> | unknown;

const sendPage = (reply: FastifyReply, result: unknown) => {
  if (reply.sent) return reply;
  if (result && typeof result === 'object' && 'value' in result)
    return reply.type('text/html; charset=utf-8').send(String(result));
  return result;
};

/**
 * Register signed-in pages of one area. GET pages redirect to sign-in without a session; POST
 * forms also need the CSRF token of the session (first field of multipart forms).
 */
export function pages(app: FastifyInstance, appliance: Appliance, area: Area) {
  const guard = (req: FastifyRequest, reply: FastifyReply): AuthSession | null => {
    const auth = pageSession(appliance, area, req);
    if (!auth) {
      void reply.redirect(`/${area}/sign-in?next=${encodeURIComponent(req.url)}`, 303);
      return null;
    }
    return auth;
  };
  const ctxOf = (auth: AuthSession, req: FastifyRequest, reply: FastifyReply): PageContext => ({
    appliance,
    auth,
    actor: { area, name: auth.principal, ip: req.ip },
    req,
    reply,
  });
  return {
    get(path: string, handler: Handler) {
      app.get(path, async (req, reply) => {
        const auth = guard(req, reply);
        if (!auth) return reply;
        return sendPage(reply, await handler(ctxOf(auth, req, reply)));
      });
    },
    /** A urlencoded form post. */
    post(path: string, handler: Handler) {
      app.post(path, async (req, reply) => {
        const auth = guard(req, reply);
        if (!auth) return reply;
        const body = (req.body ?? {}) as Record<string, string>;
        if (!appliance.auth.checkCsrf(auth.csrfToken, body._csrf)) throw csrfRefused();
        return sendPage(reply, await handler(ctxOf(auth, req, reply)));
      });
    },
    /** A multipart form post whose `_csrf` field precedes the file; the handler reads the parts. */
    upload(
      path: string,
      handler: (ctx: PageContext, parts: AsyncIterableIterator<Multipart>) => Promise<unknown>,
    ) {
      app.post(path, async (req, reply) => {
        const auth = guard(req, reply);
        if (!auth) return reply;
        if (!req.isMultipart())
          throw new GatehouseError(
            'FORM_NOT_MULTIPART',
            400,
            'This form must be sent as multipart/form-data.',
          );
        const parts = req.parts();
        const first = await parts.next();
        const token =
          !first.done && first.value.type === 'field' && first.value.fieldname === '_csrf'
            ? String(first.value.value)
            : undefined;
        if (!appliance.auth.checkCsrf(auth.csrfToken, token)) throw csrfRefused();
        return sendPage(reply, await handler(ctxOf(auth, req, reply), parts));
      });
    },
  };
}

function csrfRefused() {
  return new GatehouseError(
    'CSRF_TOKEN_INVALID',
    403,
    'This form expired or did not come from this appliance. Reload the page and submit it again.',
  );
}

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

/** The page registrar of one area, as returned by `pages`. */
export type Pages = ReturnType<typeof pages>;
