import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Multipart } from '@fastify/multipart';
import { isGatehouseError } from '../errors.js';
import type { Actor } from '../actor.js';
import { guardedBy, type Area, type AuthSession } from '../http/operations.js';
import { html, type SafeHtml } from './html.js';
import type { NavLink, Navigation, PageGuard } from './navigation.js';
import { sharedErrors } from '../error-codes.js';

export type { NavLink, PageGuard } from './navigation.js';
export { Navigation } from './navigation.js';

/** What the frame of a page shows of the server answering: its header and its navigation. */
export interface PageFrame {
  header(): { name: string; role: string; productVersion: string };
  /** The side navigation of an area, and a note under it (e.g. why links are hidden). */
  navigation(area: Area): { links: NavLink[]; note?: SafeHtml };
  /** A warning above every page of an area (e.g. an upgrade in progress), if any. */
  banner?(area: Area): SafeHtml | undefined;
}

/**
 * What the server that registers pages provides: sessions, CSRF checks and the frame. `context`
 * is what page handlers see as `ctx.appliance`: the whole appliance for pages wired in
 * src/appliance/, a narrow interface for a domain's own.
 */
export interface PageHost<C> extends PageFrame {
  context: C;
  /** The session of `area` the request's cookie carries, or null. */
  authenticate(area: Area, req: FastifyRequest): AuthSession | null;
  checkCsrf(expected: string, given: string | undefined): boolean;
  /** The side navigation the registered pages put their links in (`Pages.link`). */
  nav: Navigation;
}

/** What a page handler gets: the signed-in administrator and the context of its owner. */
export interface PageContext<C = unknown> {
  appliance: C;
  frame: PageFrame;
  auth: AuthSession;
  actor: Actor;
  req: FastifyRequest;
  reply: FastifyReply;
}

export type FieldErrors = Record<string, string>;

/** The link of the page: the longest one the path starts with. */
const active = (path: string, href: string, links: { href: string }[]) =>
  path.startsWith(href) &&
  !links.some((l) => l.href.length > href.length && path.startsWith(l.href));

function navigation(ctx: PageContext, path: string): SafeHtml {
  const { links, note } = ctx.frame.navigation(ctx.auth.area);
  return html`<nav class="side">
    ${links.map(
      (n) =>
        html`<a href="${n.href}" class="${active(path, n.href, links) ? 'active' : ''}"
          >${n.label}</a
        >`,
    )}
    ${note ?? ''}
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
  const { auth, req } = ctx;
  const who = ctx.frame.header();
  const path = req.url.split('?')[0]!;
  const fromQuery = (req.query as Record<string, string | undefined>).notice;
  const message = notice ?? fromQuery;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${opts.refreshSeconds ? html`<meta http-equiv="refresh" content="${opts.refreshSeconds}" />` : ''}
        <title>${title} · /${auth.area} · ${who.name}</title>
        <link rel="stylesheet" href="/static/style.css" />
      </head>
      <body class="area-${auth.area}">
        <header class="top">
          <div class="brand">
            <span class="logo">▣</span> Gatehouse <span class="area">/${auth.area}</span>
          </div>
          <div class="who">${who.name} · ${who.role} · v${who.productVersion}</div>
          <form method="post" action="/${auth.area}/sign-out" class="signout">
            <input type="hidden" name="_csrf" value="${auth.csrfToken}" />
            <span>${auth.principal}</span> <button type="submit" class="link">Sign out</button>
          </form>
        </header>
        ${navigation(ctx, path)}
        <main>
          ${ctx.frame.banner?.(auth.area) ?? ''}
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

/** A form posted with its CSRF token, its fields and its submit button. */
export function postForm(
  ctx: PageContext,
  o: { action: string; id: string; submit: string; cls?: string; danger?: boolean },
  fields: SafeHtml[],
  enctype = 'application/x-www-form-urlencoded',
): SafeHtml {
  return html`<form
    method="post"
    action="${o.action}"
    enctype="${enctype}"
    id="${o.id}"
    class="${o.cls ?? 'stacked'}"
  >
    ${csrfInput(ctx)} ${fields}
    <div class="buttons">
      <button type="submit" ${o.danger ? html`class="danger"` : ''}>${o.submit}</button>
    </div>
  </form>`;
}

/** A form that uploads a file (multipart, streamed): its CSRF token, its fields and its button. */
export const uploadForm = (
  ctx: PageContext,
  o: { action: string; id: string; submit: string; danger?: boolean },
  fields: SafeHtml[],
) => postForm(ctx, o, fields, 'multipart/form-data');

/** A one-button form (delete, regenerate…) with CSRF. */
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

type Handler<C> = (ctx: PageContext<C>) => Promise<unknown> | unknown;

const sendPage = (reply: FastifyReply, result: unknown) => {
  if (reply.sent) return reply;
  if (result && typeof result === 'object' && 'value' in result)
    return reply.type('text/html; charset=utf-8').send(String(result));
  return result;
};

/**
 * Register signed-in pages of one area. GET pages redirect to sign-in without a session; POST
 * forms also need the CSRF token of the session (first field of multipart forms). A `routeGuard`
 * runs first on every page of this registrar; the links it puts in the navigation are hidden
 * whenever the guard hides its pages.
 */
export function pages<C>(
  app: FastifyInstance,
  host: PageHost<C>,
  area: Area,
  routeGuard?: PageGuard,
) {
  const route = guardedBy(routeGuard);
  const guard = (req: FastifyRequest, reply: FastifyReply): AuthSession | null => {
    const auth = host.authenticate(area, req);
    if (!auth) {
      void reply.redirect(`/${area}/sign-in?next=${encodeURIComponent(req.url)}`, 303);
      return null;
    }
    return auth;
  };
  const ctxOf = (auth: AuthSession, req: FastifyRequest, reply: FastifyReply): PageContext<C> => ({
    appliance: host.context,
    frame: host,
    auth,
    actor: { area, name: auth.principal, ip: req.ip },
    req,
    reply,
  });
  return {
    /** A link to one of these pages in the area's side navigation, placed by `order`. */
    link(href: string, label: string, order: number) {
      host.nav.add(area, { href, label }, order, routeGuard?.hides);
    },
    get(path: string, handler: Handler<C>) {
      app.get(path, route, async (req, reply) => {
        const auth = guard(req, reply);
        if (!auth) return reply;
        return sendPage(reply, await handler(ctxOf(auth, req, reply)));
      });
    },
    /** A urlencoded form post. */
    post(path: string, handler: Handler<C>) {
      app.post(path, route, async (req, reply) => {
        const auth = guard(req, reply);
        if (!auth) return reply;
        const body = (req.body ?? {}) as Record<string, string>;
        if (!host.checkCsrf(auth.csrfToken, body._csrf)) throw csrfRefused();
        return sendPage(reply, await handler(ctxOf(auth, req, reply)));
      });
    },
    /** A multipart form post whose `_csrf` field precedes the file; the handler reads the parts. */
    upload(
      path: string,
      handler: (ctx: PageContext<C>, parts: AsyncIterableIterator<Multipart>) => Promise<unknown>,
    ) {
      app.post(path, route, async (req, reply) => {
        const auth = guard(req, reply);
        if (!auth) return reply;
        if (!req.isMultipart())
          throw sharedErrors.FORM_NOT_MULTIPART('This form must be sent as multipart/form-data.');
        const parts = req.parts();
        const first = await parts.next();
        const token =
          !first.done && first.value.type === 'field' && first.value.fieldname === '_csrf'
            ? String(first.value.value)
            : undefined;
        if (!host.checkCsrf(auth.csrfToken, token)) throw csrfRefused();
        return sendPage(reply, await handler(ctxOf(auth, req, reply), parts));
      });
    },
  };
}

function csrfRefused() {
  return sharedErrors.CSRF_TOKEN_INVALID(
    'This form expired or did not come from this appliance. Reload the page and submit it again.',
  );
}

/** The page registrar of one area, as returned by `pages`. */
export type Pages<C> = ReturnType<typeof pages<C>>;
