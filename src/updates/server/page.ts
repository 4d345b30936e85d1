import type { FastifyReply } from 'fastify';
import { html, type SafeHtml } from '../../shared/web/html.js';
import type { AdminSession } from './admin-auth.js';

/** The frame of every update server page. */
export function page(title: string, body: SafeHtml, opts: { nav?: SafeHtml } = {}): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Gatehouse update server</title>
        <link rel="stylesheet" href="/static/style.css" />
      </head>
      <body class="update-server">
        <header class="top">
          <div class="brand">
            <span class="logo">▣</span> Gatehouse <span class="area">update server</span>
          </div>
          ${opts.nav ?? ''}
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}

export const sendPage = (reply: FastifyReply, content: SafeHtml, status = 200) =>
  reply.code(status).type('text/html; charset=utf-8').send(content.value);

/** After an operator's action: back to /admin with what happened. */
export const notice = (reply: FastifyReply, text: string) =>
  reply.redirect(`/admin?notice=${encodeURIComponent(text)}`, 303);

/** A one-button form of the operator's pages (hidden fields and the session's CSRF token). */
export function button(
  session: AdminSession,
  action: string,
  fields: Record<string, string>,
  label: string,
  cls = 'secondary',
): SafeHtml {
  return html`<form method="post" action="${action}" class="inline">
    <input type="hidden" name="_csrf" value="${session.csrfToken}" />${Object.entries(fields).map(
      ([k, v]) => html`<input type="hidden" name="${k}" value="${v}" />`,
    )}<button type="submit" class="${cls}">${label}</button>
  </form>`;
}
