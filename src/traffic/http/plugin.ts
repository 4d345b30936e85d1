import { serveStatic } from '../../shared/web/static.js';
import { adminSurface, domainHttp, type AdminOptions } from '../../shared/web/domain-http.js';
import { trafficOperations } from './api.js';
import { registerTrafficPages } from './pages.js';
import type { TrafficSite } from './site.js';

/** The page host of /appliance seeing the appliance as `TrafficSite` (no guards: per appliance). */
export type TrafficHttpOptions = AdminOptions<TrafficSite>;

/**
 * The traffic switch's HTTP surface (S19): the /api/appliance/traffic operations, the
 * /appliance > Networking > Traffic Switch page and the script that shows its chosen method.
 */
export const trafficHttp = domainHttp<TrafficHttpOptions>(trafficOperations, async (app, opts) => {
  const p = adminSurface(app, opts, 'appliance', trafficOperations);
  p.link('/appliance/networking/traffic', 'Networking > Traffic Switch', 30);
  registerTrafficPages(p);
  serveStatic(app, new URL('./static/', import.meta.url), ['traffic.js']);
});
