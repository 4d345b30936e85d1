import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { html } from '../../shared/web/html.js';
import { createHttpsServer } from '../../shared/http/server.js';
import { registerApi } from './api.js';
import { page } from './page.js';
import { serveStylesheet } from '../../shared/web/static.js';
import { registerAdminPages } from './pages-admin.js';
import { registerDownloadKeyPages } from './pages-download-key.js';
import type { UpdateServer } from './update-server.js';

/** The HTTPS server: health, the appliance API, the download-key page and the operator's pages. */
export async function buildUpdateServer(
  server: UpdateServer,
  logger: Logger,
): Promise<FastifyInstance> {
  const app = await createHttpsServer({
    tlsKeyFile: server.dir.tlsKey,
    tlsCertFile: server.dir.tlsCert,
    logger,
    bodyLimit: 64 * 1024,
    referrerPolicy: 'no-referrer',
    contentSecurityPolicy:
      "default-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
    serverName: 'The update server',
    logsWhere: 'in its log',
    notFoundHint:
      'Appliances use POST /api/v1/check and GET /api/v1/packages/:id; people use / (download key) and /admin.',
    errorPage: (error) =>
      page(
        `${error.status} — ${error.code}`,
        html`<p class="error" role="alert" data-code="${error.code}">${error.message}</p>
          <p><a href="/">Back to the download page</a></p>`,
      ).value,
  });
  // The appliance console's stylesheet: the update server's pages look like the appliance's.
  serveStylesheet(app);
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());

  registerApi(app, server);
  registerDownloadKeyPages(app, server);
  registerAdminPages(app, server);
  return app;
}
