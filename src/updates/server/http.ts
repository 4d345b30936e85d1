import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import type { Logger } from 'pino';
import { html } from '../../shared/web/html.js';
import { GatehouseError, isGatehouseError } from '../../shared/errors.js';
import { registerFormBody } from '../../shared/form-body.js';
import { AdminAuth } from './admin-auth.js';
import { registerApi } from './api.js';
import type { UpdateServerDir } from './data-dir.js';
import { PackageIntegrity } from './integrity.js';
import { page, STYLE } from './page.js';
import { registerAdminPages } from './pages-admin.js';
import { registerDownloadKeyPages } from './pages-download-key.js';
import type { UpdateStore } from './store.js';

/** What the routes of one update server share. */
export class UpdateServer {
  readonly auth: AdminAuth;
  readonly integrity: PackageIntegrity;

  constructor(
    readonly dir: UpdateServerDir,
    readonly store: UpdateStore,
  ) {
    this.auth = new AdminAuth(store);
    this.integrity = new PackageIntegrity(dir);
  }

  get ticketSecret(): string {
    return this.store.setting('ticket_secret')!;
  }
}

/** The HTTPS server: health, the appliance API, the download-key page and the operator's pages. */
export async function buildUpdateServer(
  server: UpdateServer,
  logger: Logger,
): Promise<FastifyInstance> {
  const app = Fastify({
    https: {
      key: readFileSync(server.dir.tlsKey),
      cert: readFileSync(server.dir.tlsCert),
      minVersion: 'TLSv1.2',
    },
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;

  await app.register(cookie);
  registerFormBody(app);

  app.addHook('onRequest', async (_req, reply) => {
    reply.header('strict-transport-security', 'max-age=31536000');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header(
      'content-security-policy',
      "default-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
    );
  });
  app.addHook('onResponse', async (req, reply) => {
    // Never the query string: download links carry tickets.
    req.log.info(
      {
        method: req.method,
        url: req.routeOptions.url ?? req.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    let error: GatehouseError;
    if (isGatehouseError(err)) error = err;
    else if (typeof err.statusCode === 'number' && err.statusCode < 500)
      error = new GatehouseError(err.code ?? 'BAD_REQUEST', err.statusCode, err.message);
    else {
      req.log.error({ err }, 'unhandled error');
      error = new GatehouseError(
        'INTERNAL_ERROR',
        500,
        'The update server could not complete the request; nothing was changed. Details are in its log.',
      );
    }
    const path = req.url.split('?')[0]!;
    if (
      path.startsWith('/api/') ||
      path === '/health' ||
      !req.headers.accept?.includes('text/html')
    ) {
      void reply
        .code(error.status)
        .headers(error.headers)
        .type('application/problem+json')
        .send(error.toProblem(path));
      return;
    }
    void reply
      .code(error.status)
      .headers(error.headers)
      .type('text/html; charset=utf-8')
      .send(
        page(
          `${error.status} — ${error.code}`,
          html`<p class="error" role="alert" data-code="${error.code}">${error.message}</p>
            <p><a href="/">Back to the download page</a></p>`,
        ).value,
      );
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const error = new GatehouseError(
      'NOT_FOUND',
      404,
      `Nothing is at ${req.method} ${path}. Appliances use POST /api/v1/check and GET /api/v1/packages/:id; people use / (download key) and /admin.`,
    );
    void reply.code(404).type('application/problem+json').send(error.toProblem(path));
  });

  app.get('/static/style.css', async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(STYLE),
  );
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());

  registerApi(app, server);
  registerDownloadKeyPages(app, server);
  registerAdminPages(app, server);
  return app;
}
