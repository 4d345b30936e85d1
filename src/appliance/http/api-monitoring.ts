import { z } from 'zod';
import { SyslogConfigInput } from '../../syslog/settings.js';
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

/** /login > Management > Syslog: forwarding of the event log (src/syslog). */
export const syslogOperations: ApplianceOperation[] = [
  defineOperation({
    id: 'getSyslog',
    method: 'GET',
    path: '/api/login/management/syslog',
    area: 'login',
    tag: 'login',
    summary: 'Syslog forwarding: the collector, how it is trusted, and the forwarder state',
    response: { status: 200, description: 'Configuration (null when never set) and state' },
    handler: ({ appliance }) => ({
      config: appliance.syslogSettings.get() ?? null,
      status: appliance.syslog?.status() ?? null,
    }),
  }),
  defineOperation({
    id: 'setSyslog',
    method: 'PUT',
    path: '/api/login/management/syslog',
    area: 'login',
    tag: 'login',
    summary:
      'Forward the event log as RFC 5424 over TLS (RFC 5425) to a collector pinned by fingerprint or verified by a CA',
    body: SyslogConfigInput,
    response: { status: 200, description: 'The configuration now in force' },
    handler: ({ appliance, actor, body }) => appliance.syslogSettings.set(actor, body),
  }),
];
