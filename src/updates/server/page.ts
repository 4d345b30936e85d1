import type { FastifyReply } from 'fastify';
import { html, type SafeHtml } from '../../shared/web/html.js';

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
