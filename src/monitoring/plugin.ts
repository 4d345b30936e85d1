import type { FastifyInstance } from 'fastify';

import type { ApplianceMetrics } from './metrics.js';
import type { ScrapeTokens } from './scrape-tokens.js';
import { monitoringErrors } from './error-codes.js';

export interface MonitoringDeps {
  metrics: ApplianceMetrics;
  tokens: Pick<ScrapeTokens, 'verify'>;
}

const bearer = (header: string | undefined) =>
  header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;

/**
 * `GET /metrics` for Prometheus, with a scrape token as bearer, and the timing of every HTTP
 * request. Called on the root instance: the request hook must see every route.
 */
export function registerMonitoring(app: FastifyInstance, deps: MonitoringDeps): void {
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.observeRequest(
      req.method,
      // The template (`/api/login/users/:id`), never the URL: labels stay bounded.
      req.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', async (req, reply) => {
    if (!deps.tokens.verify(bearer(req.headers.authorization)))
      throw monitoringErrors.SCRAPE_TOKEN_INVALID(
        'GET /metrics needs "Authorization: Bearer <scrape token>". An /appliance administrator creates one on /appliance > Monitoring (or `gatehouse appliance metrics-token create`).',
        { headers: { 'www-authenticate': 'Bearer realm="metrics"' } },
      );
    const body = await deps.metrics.registry.metrics();
    return reply
      .type(deps.metrics.registry.contentType)
      .header('cache-control', 'no-store')
      .send(body);
  });
}
