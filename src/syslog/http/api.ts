import { operationsOf, type Operation } from '../../shared/http/operations.js';
import { SyslogConfigInput } from '../settings.js';
import type { SyslogSite } from './site.js';

type SyslogOperation = Operation<unknown, unknown, unknown, SyslogSite>;
const op = operationsOf<SyslogSite>({ area: 'login', tag: 'login' });

/** /login > Management > Syslog: forwarding of the event log (src/syslog). */
export const syslogOperations: SyslogOperation[] = [
  op('getSyslog', 'GET /api/login/management/syslog', {
    summary: 'Syslog forwarding: the collector, how it is trusted, and the forwarder state',
    response: { status: 200, description: 'Configuration (null when never set) and state' },
    handler: ({ appliance }) => ({
      config: appliance.syslogSettings.get() ?? null,
      status: appliance.syslog?.status() ?? null,
    }),
  }),
  op('setSyslog', 'PUT /api/login/management/syslog', {
    summary:
      'Forward the event log as RFC 5424 over TLS (RFC 5425) to a collector pinned by fingerprint or verified by a CA',
    body: SyslogConfigInput,
    response: { status: 200, description: 'The configuration now in force' },
    handler: ({ appliance, actor, body }) => appliance.syslogSettings.set(actor, body),
  }),
];
