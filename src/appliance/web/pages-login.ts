import type { FastifyInstance } from 'fastify';
import type { Appliance } from '../context.js';
import { pages } from './page-host.js';
import { registerStatusPages } from './pages-status.js';

/**
 * The /login pages wired here: the area's entry and Status > Information. The site's sections
 * are the site's plugin's (src/site/http/), the others their domains'.
 */
export function registerLoginPages(app: FastifyInstance, appliance: Appliance): void {
  const p = pages(app, appliance, 'login');
  p.link('/login/status/information', 'Status', 100);
  app.get('/login', async (_req, reply) => reply.redirect('/login/users', 303));
  registerStatusPages(p);
}
