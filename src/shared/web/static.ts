import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/**
 * Serve the files of a `static` folder (copied beside the compiled code by
 * scripts/copy-assets.mjs) at /static/NAME. Each is read once, at registration: the pages that
 * use them are served by the same build.
 */
export function serveStatic(app: FastifyInstance, folder: URL, names: string[]): void {
  for (const name of names) {
    const type = TYPES[path.extname(name)];
    if (!type)
      throw new Error(`${name}: not a static asset type (${Object.keys(TYPES).join(', ')})`);
    const body = readFileSync(fileURLToPath(new URL(name, folder)), 'utf8');
    app.get(`/static/${name}`, async (_req, reply) =>
      reply.type(type).header('cache-control', 'max-age=300').send(body),
    );
  }
}

/** The stylesheet every page of the appliance and of the update server links. */
export const serveStylesheet = (app: FastifyInstance) =>
  serveStatic(app, new URL('./static/', import.meta.url), ['style.css']);
