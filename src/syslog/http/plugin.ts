import type { FastifyPluginAsync } from 'fastify';
import {
  registerOperations,
  type OperationHost,
  type RouteGuard,
} from '../../shared/http/operations.js';
import { pages, type PageGuard, type PageHost } from '../../shared/web/kit.js';
import { syslogOperations } from './api.js';
import { registerSyslogPages } from './pages.js';
import type { SyslogSite } from './site.js';

export interface SyslogHttpOptions {
  /** The page host of /login, seeing the appliance as `SyslogSite`. */
  pages: PageHost<SyslogSite>;
  /** How the admin API checks sessions (the appliance's /login accounts). */
  authenticate: OperationHost<SyslogSite>['authenticate'];
  /** When the API refuses changes (site settings: a failover backup receives them by sync). */
  apiGuard?: RouteGuard;
  /** When the page gives way (a failover backup hides it: the primary manages it). */
  pageGuard?: PageGuard;
}

/** Syslog forwarding's HTTP surface: /api/login/management/syslog and Management > Syslog. */
export const syslogHttp: FastifyPluginAsync<SyslogHttpOptions> = async (app, opts) => {
  registerOperations(
    app,
    { context: opts.pages.context, authenticate: opts.authenticate },
    syslogOperations,
    opts.apiGuard,
  );
  const p = pages(app, opts.pages, 'login', opts.pageGuard);
  p.link('/login/management/syslog', 'Management > Syslog', 90);
  registerSyslogPages(p);
};
