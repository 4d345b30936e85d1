import { z } from 'zod';
import { applianceOperationsOf, type ApplianceOperation } from './operation.js';

const op = applianceOperationsOf({ area: 'appliance', tag: 'monitoring' });

const TokenParams = z.object({ id: z.uuid({ message: 'must be the id of a scrape token' }) });

/** /appliance > Monitoring: the scrape tokens of GET /metrics (src/monitoring). */
export const monitoringOperations: ApplianceOperation[] = [
  op('listScrapeTokens', 'GET /api/appliance/monitoring/tokens', {
    summary:
      'Scrape tokens that may read GET /metrics (the tokens themselves are never shown again)',
    response: { status: 200, description: 'Tokens' },
    handler: ({ appliance }) => ({ tokens: appliance.scrapeTokens.list() }),
  }),
  op('createScrapeToken', 'POST /api/appliance/monitoring/tokens', {
    summary:
      'Create a scrape token for a Prometheus server; the answer is the only time it is shown',
    body: z
      .object({ label: z.string({ message: 'is required (name the scraper)' }).max(64) })
      .strict(),
    response: { status: 201, description: 'The token, shown once' },
    handler: ({ appliance, actor, body }) => appliance.scrapeTokens.create(actor, body.label),
  }),
  op('revokeScrapeToken', 'DELETE /api/appliance/monitoring/tokens/:id', {
    summary: 'Revoke a scrape token: its next scrape is refused',
    params: TokenParams,
    response: { status: 204, description: 'Revoked' },
    handler: ({ appliance, actor, params }) => {
      appliance.scrapeTokens.revoke(actor, params.id);
    },
  }),
];
