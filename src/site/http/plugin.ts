import { adminSurface, domainHttp, type AdminOptions } from '../../shared/web/domain-http.js';
import { siteDataOperations, siteOperations } from './api.js';
import { registerConfigurationPages } from './pages-configuration.js';
import { registerFilePages } from './pages-files.js';
import { registerLogPages } from './pages-logs.js';
import { registerSecurityPages } from './pages-security.js';
import { registerUserPages } from './pages-users.js';
import type { SiteDataSite } from './site.js';

/**
 * The page host of /login seeing the appliance as `SiteDataSite`; the guards hold for the site
 * data only (a failover backup receives it by sync), not for Logs or Security.
 */
export type SiteHttpOptions = AdminOptions<SiteDataSite>;

/**
 * The site's own HTTP surface: the site data (users, configuration, file store: API and
 * pages, changed on the primary only), Logs, Management > Security and the integrity snapshot.
 */
export const siteHttp = domainHttp<SiteHttpOptions>(
  [...siteDataOperations, ...siteOperations],
  async (app, opts) => {
    const site = opts.pages.context;
    const primaryOnly = adminSurface(app, opts, 'login', siteDataOperations);
    primaryOnly.link('/login/users', 'Users', 10);
    primaryOnly.link('/login/configuration', 'Configuration', 20);
    primaryOnly.link('/login/files', 'File Store', 30);
    registerUserPages(primaryOnly, site);
    registerConfigurationPages(primaryOnly, site);
    registerFilePages(primaryOnly, site);
    const p = adminSurface(
      app,
      { pages: opts.pages, authenticate: opts.authenticate },
      'login',
      siteOperations,
    );
    p.link('/login/logs', 'Logs', 40);
    p.link('/login/management/security', 'Management > Security', 60);
    registerLogPages(p, site);
    registerSecurityPages(p, site);
  },
);
