import { adminSurface, domainHttp, type AdminOptions } from '../../shared/web/domain-http.js';
import { syslogOperations } from './api.js';
import { registerSyslogPages } from './pages.js';
import type { SyslogSite } from './site.js';

/** The page host of /login seeing the appliance as `SyslogSite`; guards: site settings, synced. */
export type SyslogHttpOptions = AdminOptions<SyslogSite>;

/** Syslog forwarding's HTTP surface: /api/login/management/syslog and Management > Syslog. */
export const syslogHttp = domainHttp<SyslogHttpOptions>(syslogOperations, async (app, opts) => {
  const p = adminSurface(app, opts, 'login', syslogOperations);
  p.link('/login/management/syslog', 'Management > Syslog', 90);
  registerSyslogPages(p);
});
