import type { FastifyPluginAsync } from 'fastify';
import { registerOperations, type OperationHost } from '../../shared/http/operations.js';
import { pages, type PageHost } from '../../shared/web/kit.js';
import { serveStatic } from '../../shared/web/static.js';
import { trafficOperations } from './api.js';
import { registerTrafficPages } from './pages.js';
import type { TrafficSite } from './site.js';

export interface TrafficHttpOptions {
  /** The page host of /appliance, seeing the appliance as `TrafficSite`. */
  pages: PageHost<TrafficSite>;
  /** How the admin API checks sessions (the appliance's /appliance accounts). */
  authenticate: OperationHost<TrafficSite>['authenticate'];
}

/**
 * The traffic switch's HTTP surface (S19): the /api/appliance/traffic operations, the
 * /appliance > Networking > Traffic Switch page and the script that shows its chosen method.
 */
export const trafficHttp: FastifyPluginAsync<TrafficHttpOptions> = async (app, opts) => {
  registerOperations(
    app,
    { context: opts.pages.context, authenticate: opts.authenticate },
    trafficOperations,
  );
  const p = pages(app, opts.pages, 'appliance');
  p.link('/appliance/networking/traffic', 'Networking > Traffic Switch', 30);
  registerTrafficPages(p);
  serveStatic(app, new URL('./static/', import.meta.url), ['traffic.js']);
};
