import type { FastifyInstance } from 'fastify';
import type { Appliance } from '../context.js';
import { pages } from './kit.js';

/** /login area pages: Users, Configuration, File Store, Logs, Management > Security, Status > Information. */
export function registerLoginPages(app: FastifyInstance, appliance: Appliance): void {
  pages(app, appliance, 'login');
  app.get('/login', async (_req, reply) => reply.redirect('/login/users', 303));
}
