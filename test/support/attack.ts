import { readFileSync } from 'node:fs';
import path from 'node:path';
import { request, type Agent } from 'undici';
import { ROUTE_LIST_ENV } from '../../src/shared/http/route-list.js';
import { tempDir } from './appliance.js';

/** The refusals a probe may get. Anything else, and any 5xx, fails the attack suite. */
export const REFUSED = new Set([400, 401, 403, 404, 405, 409, 413, 415, 426, 429]);
export const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
export const JSON_BAD = { 'content-type': 'application/json' };

export type Route = { method: string; url: string };
export const routeKey = (r: Route) => `${r.method} ${r.url}`;

/**
 * Start a server with its route table written to a file (GATEHOUSE_TEST_ROUTE_LIST, read by the
 * spawned process at start) and return it with the routes it registered (HEAD and OPTIONS,
 * which Fastify derives, left out).
 */
export async function withRouteList<T>(start: () => Promise<T>): Promise<[T, Route[]]> {
  const file = path.join(tempDir('gh-routes-'), 'routes.jsonl');
  process.env[ROUTE_LIST_ENV] = file;
  let server: T;
  try {
    server = await start();
  } finally {
    delete process.env[ROUTE_LIST_ENV];
  }
  const routes = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Route)
    .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
  return [server, routes];
}

/** One raw request (no client-side credentials added), its status, body text and Location. */
export async function send(
  server: { baseUrl: string; agent: Agent },
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: string,
) {
  const res = await request(new URL(url, server.baseUrl), {
    method: method as 'GET',
    headers,
    body,
    dispatcher: server.agent,
  });
  const text = await res.body.text();
  const location = res.headers.location;
  return {
    status: res.statusCode,
    text,
    location: typeof location === 'string' ? location : undefined,
  };
}
