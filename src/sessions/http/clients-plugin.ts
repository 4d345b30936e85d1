import { registerOperations, type OperationHost } from '../../shared/http/operations.js';
import { domainHttp } from '../../shared/web/domain-http.js';
import { clientOperations } from './client-api.js';
import { jumpClientOperations } from './client-api-jump-clients.js';
import type { ClientSite } from './client-site.js';

const operations = [...clientOperations, ...jumpClientOperations];

export interface ClientsHttpOptions {
  /** The appliance as the clients' API sees it. */
  site: ClientSite;
  /** How operations check sessions (the clients' API checks tickets instead; none needs one). */
  authenticate: OperationHost<ClientSite>['authenticate'];
}

/**
 * The clients' API (/api/client/*): console sign-in, the site's Jump Clients, session tickets,
 * customer clients, recordings, and Jump Client enrolment and registration. Clients prove
 * themselves with tickets (src/sessions/tickets.ts), which every appliance of the site checks.
 */
export const clientsHttp = domainHttp<ClientsHttpOptions>(operations, async (app, opts) => {
  // Each client's kept-alive connection, idle or serving (closed when the clients move).
  const connections = opts.site.clients.apiConnections;
  app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/api/client/')) connections.started(req.raw.socket);
  });
  // A connection busy when the clients moved closes with its answer (see closeIdle).
  app.addHook('onSend', async (req, reply) => {
    if (req.url.startsWith('/api/client/') && connections.closesAfterAnswer(req.raw.socket))
      reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req) => {
    if (req.url.startsWith('/api/client/')) connections.finished(req.raw.socket);
  });
  registerOperations(app, { context: opts.site, authenticate: opts.authenticate }, operations);
});
