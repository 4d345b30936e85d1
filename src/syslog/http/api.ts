import { operationsOf, type Operation } from '../../shared/http/operations.js';
import { SyslogConfigInput } from '../settings.js';
import type { SyslogSite } from './site.js';

type SyslogOperation = Operation<unknown, unknown, unknown, SyslogSite>;
const defineOperation = operationsOf<SyslogSite>();

/** /login > Management > Syslog: forwarding of the event log (src/syslog). */
export const syslogOperations: SyslogOperation[] = [
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
