import type { FastifyPluginAsync } from 'fastify';
import {
  registerOperations,
  type OperationHost,
  type RouteGuard,
} from '../../shared/http/operations.js';
import { pages, type PageGuard, type PageHost } from '../../shared/web/kit.js';
import { siteDataOperations, siteOperations } from './api.js';
import { registerConfigurationPages } from './pages-configuration.js';
import { registerFilePages } from './pages-files.js';
import { registerLogPages } from './pages-logs.js';
import { registerSecurityPages } from './pages-security.js';
import { registerUserPages } from './pages-users.js';
import type { SiteDataSite } from './site.js';

export interface SiteHttpOptions {
  /** The page host of /login, seeing the appliance as `SiteDataSite`. */
  pages: PageHost<SiteDataSite>;
  /** How the admin API checks sessions (the appliance's /login accounts). */
  authenticate: OperationHost<SiteDataSite>['authenticate'];
  /** When the site data's API refuses changes (a failover backup receives them by sync). */
  apiGuard?: RouteGuard;
  /** When the site data's pages give way (a failover backup hides them). */
  pageGuard?: PageGuard;
}

/**
 * The site's own HTTP surface: the site data (users, configuration, file store: API and
 * pages, changed on the primary only), Logs, Management > Security and the integrity snapshot.
 */
export const siteHttp: FastifyPluginAsync<SiteHttpOptions> = async (app, opts) => {
  const host = { context: opts.pages.context, authenticate: opts.authenticate };
  registerOperations(app, host, siteDataOperations, opts.apiGuard);
  registerOperations(app, host, siteOperations);
  const site = opts.pages.context;
  const primaryOnly = pages(app, opts.pages, 'login', opts.pageGuard);
  primaryOnly.link('/login/users', 'Users', 10);
  primaryOnly.link('/login/configuration', 'Configuration', 20);
  primaryOnly.link('/login/files', 'File Store', 30);
  registerUserPages(primaryOnly, site);
  registerConfigurationPages(primaryOnly, site);
  registerFilePages(primaryOnly, site);
  const p = pages(app, opts.pages, 'login');
  p.link('/login/logs', 'Logs', 40);
  p.link('/login/management/security', 'Management > Security', 60);
  registerLogPages(p, site);
  registerSecurityPages(p, site);
};
