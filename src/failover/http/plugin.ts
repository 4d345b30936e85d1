import type { FastifyPluginAsync } from 'fastify';
import { registerOperations, type OperationHost } from '../../shared/http/operations.js';
import type { PageHost } from '../../shared/web/kit.js';
import { failoverOperations } from './api.js';
import { registerFailoverPages } from './pages.js';
import type { FailoverSite } from './site.js';

export interface FailoverHttpOptions {
  /** The page host of /login, seeing the appliance as `FailoverSite`. */
  pages: PageHost<FailoverSite>;
  /** How the admin API checks sessions (the appliance's /login accounts). */
  authenticate: OperationHost<FailoverSite>['authenticate'];
}

/**
 * The administrators' side of failover: the /api/login/failover operations and Management >
 * Failover. (The peer protocol between the two appliances is registered by peer-server.ts.)
 */
export const failoverHttp: FastifyPluginAsync<FailoverHttpOptions> = async (app, opts) => {
  const site = opts.pages.context;
  registerOperations(app, { context: site, authenticate: opts.authenticate }, failoverOperations);
  registerFailoverPages(app, opts.pages);
};
