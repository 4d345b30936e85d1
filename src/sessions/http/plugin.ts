import { adminSurface, domainHttp, type AdminOptions } from '../../shared/web/domain-http.js';
import { jumpClientAdminOperations } from './api-jump-clients.js';
import { jumpClientUpgradeOperations } from './api-jump-client-upgrades.js';
import { registerJumpClientPages } from './pages-jump-clients.js';
import type { JumpClientsSite } from './site.js';

const operations = [...jumpClientAdminOperations, ...jumpClientUpgradeOperations];

/** The page host of /login seeing the appliance as `JumpClientsSite`; guards: site data, synced. */
export type JumpClientsHttpOptions = AdminOptions<JumpClientsSite>;

/**
 * Jump Client administration: the /api/login/jump-clients operations and /login > Jump
 * Clients (enrolment tokens, installations, the legacy key window). The clients' own API
 * (enrol, register, sessions) is clients-plugin.ts.
 */
export const jumpClientsHttp = domainHttp<JumpClientsHttpOptions>(operations, async (app, opts) => {
  const p = adminSurface(app, opts, 'login', operations);
  p.link('/login/jump-clients', 'Jump Clients', 50);
  registerJumpClientPages(p);
});
