import { writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/** The environment variable naming the file a server writes its route table to. */
export const ROUTE_LIST_ENV = 'GATEHOUSE_TEST_ROUTE_LIST';

/**
 * A test hook: with GATEHOUSE_TEST_ROUTE_LIST=FILE, the server writes every route it registered
 * (method and URL template, one JSON object per line) to FILE once it is ready, so the attack
 * suite probes each route without a list kept by hand. Only templates are written, never a
 * request or a secret, so the hook is harmless if set by mistake.
 */
export function recordRoutes(app: FastifyInstance, file = process.env[ROUTE_LIST_ENV]): void {
  if (!file) return;
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routes.push({ method, url: route.url });
  });
  app.addHook('onReady', async () => {
    writeFileSync(file, routes.map((r) => JSON.stringify(r)).join('\n') + '\n', { mode: 0o600 });
  });
}
