import { z } from 'zod';
import { defineOperation, type ApplianceOperation } from './operation.js';

const TokenParams = z.object({ id: z.uuid({ message: 'must be the id of a scrape token' }) });

/** /appliance > Monitoring: the scrape tokens of GET /metrics (src/monitoring). */
export const monitoringOperations: ApplianceOperation[] = [
  defineOperation({
    id: 'listScrapeTokens',
    method: 'GET',
    path: '/api/appliance/monitoring/tokens',
    area: 'appliance',
    tag: 'monitoring',
    summary:
      'Scrape tokens that may read GET /metrics (the tokens themselves are never shown again)',
    response: { status: 200, description: 'Tokens' },
    handler: ({ appliance }) => ({ tokens: appliance.scrapeTokens.list() }),
  }),
  defineOperation({
    id: 'createScrapeToken',
    method: 'POST',
    path: '/api/appliance/monitoring/tokens',
    area: 'appliance',
    tag: 'monitoring',
    summary:
      'Create a scrape token for a Prometheus server; the answer is the only time it is shown',
    body: z
      .object({ label: z.string({ message: 'is required (name the scraper)' }).max(64) })
      .strict(),
    response: { status: 201, description: 'The token, shown once' },
    handler: ({ appliance, actor, body }) => appliance.scrapeTokens.create(actor, body.label),
  }),
  defineOperation({
    id: 'revokeScrapeToken',
    method: 'DELETE',
    path: '/api/appliance/monitoring/tokens/:id',
    area: 'appliance',
    tag: 'monitoring',
    summary: 'Revoke a scrape token: its next scrape is refused',
    params: TokenParams,
    response: { status: 204, description: 'Revoked' },
    handler: ({ appliance, actor, params }) => {
      appliance.scrapeTokens.revoke(actor, params.id);
    },
  }),
];
