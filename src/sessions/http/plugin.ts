import type { FastifyPluginAsync } from 'fastify';
import {
  registerOperations,
  type OperationHost,
  type RouteGuard,
} from '../../shared/http/operations.js';
import { pages, type PageGuard, type PageHost } from '../../shared/web/kit.js';
import { jumpClientAdminOperations } from './api-jump-clients.js';
import { jumpClientUpgradeOperations } from './api-jump-client-upgrades.js';
import { registerJumpClientPages } from './pages-jump-clients.js';
import type { JumpClientsSite } from './site.js';

/** Every operation the plugin registers (the OpenAPI document lists the same). */
export const jumpClientsHttpOperations = [
  ...jumpClientAdminOperations,
  ...jumpClientUpgradeOperations,
];

export interface JumpClientsHttpOptions {
  /** The page host of /login, seeing the appliance as `JumpClientsSite`. */
  pages: PageHost<JumpClientsSite>;
  /** How the admin API checks sessions (the appliance's /login accounts). */
  authenticate: OperationHost<JumpClientsSite>['authenticate'];
  /** When the admin API refuses changes (site data: a failover backup receives it by sync). */
  apiGuard?: RouteGuard;
  /** When the page gives way (a failover backup hides it: the primary manages it). */
  pageGuard?: PageGuard;
}

/**
 * Jump Client administration: the /api/login/jump-clients operations and /login > Jump
 * Clients (enrolment tokens, installations, the legacy key window). The clients' own API
 * (enrol, register, sessions) is still wired in src/appliance/http/.
 */
export const jumpClientsHttp: FastifyPluginAsync<JumpClientsHttpOptions> = async (app, opts) => {
  registerOperations(
    app,
    { context: opts.pages.context, authenticate: opts.authenticate },
    jumpClientsHttpOperations,
    opts.apiGuard,
  );
  const p = pages(app, opts.pages, 'login', opts.pageGuard);
  p.link('/login/jump-clients', 'Jump Clients', 50);
  registerJumpClientPages(p);
};
