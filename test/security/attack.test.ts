import { describe, expect, it } from 'vitest';
import { signPeerRequest } from '../../src/failover/peer-auth.js';
import { startTestAppliance } from '../support/appliance.js';
import {
  FORM,
  JSON_BAD,
  REFUSED,
  routeKey as key,
  send,
  withRouteList,
  WRITES,
  type Route,
} from '../support/attack.js';

const KEY = 'attack-suite-inter-appliance-key-0123456789';

/**
 * Routes that answer without credentials by design, each with the reason. Everything the server
 * registers that is neither here, nor declared `area: 'public'` in the OpenAPI document, must
 * refuse every probe.
 */
const PUBLIC: Record<string, string> = {
  'GET /health': 'liveness for load balancers and the orchestrator; no secrets in it',
  'GET /health/primary': 'load balancer as traffic switch (Patroni-style /primary)',
  'GET /health/backup': 'load balancer as traffic switch (Patroni-style /replica)',
  'GET /': 'the start page only links to the two sign-in pages',
  'GET /appliance': 'only redirects to /appliance/status, which asks for a session',
  'GET /login': 'only redirects to /login/users, which asks for a session',
  'POST /appliance/sign-out':
    'clears the cookie; ends a session only with its CSRF token (checked below: probes end none)',
  'POST /login/sign-out':
    'clears the cookie; ends a session only with its CSRF token (checked below: probes end none)',
  'GET /favicon.ico': 'browsers ask for it before signing in',
  'GET /appliance/sign-in': 'the sign-in form',
  'POST /appliance/sign-in': 'signing in (throttled, see sign-in.test.ts)',
  'GET /login/sign-in': 'the sign-in form',
  'POST /login/sign-in': 'signing in (throttled, see sign-in.test.ts)',
};

/** Public by prefix: the web console's static assets (stylesheet, scripts), no data in them. */
const PUBLIC_PREFIX = 'GET /static/';

type Probe = {
  what: string;
  route: Route;
  headers?: Record<string, string>;
  body?: string;
  /** A redirect to this area's sign-in page counts as a refusal (signed-in web pages). */
  signInOf?: 'appliance' | 'login';
  /** A public route: any answer but a 5xx. */
  anyBut5xx?: boolean;
};

const concrete = (url: string) => url.replace(/:[A-Za-z_]+/g, 'probe').replace(/\*/g, 'probe');

describe('attack suite', () => {
  it(
    'every route refuses missing, wrong and other-area credentials, forged tickets, replayed peer requests and malformed bodies',
    { timeout: 120_000 },
    async () => {
      const [a, routes] = await withRouteList(() =>
        startTestAppliance({ name: 'attack', interApplianceKey: KEY }),
      );
      const doc = (await a.api.call<OpenApi>('GET', '/api/openapi.json', { auth: 'login' })).body;
      const ops = operationsOf(doc);
      const tokens = { appliance: a.api.tokenFor('appliance')!, login: a.api.tokenFor('login')! };

      const probes: Probe[] = [];
      const unclassified: string[] = [];
      for (const route of routes) {
        const op = ops.get(key(route));
        if (op) probes.push(...apiProbes(route, op, tokens));
        else if (PUBLIC[key(route)] || key(route).startsWith(PUBLIC_PREFIX))
          probes.push({ what: 'public', route, anyBut5xx: true });
        else if (route.url.startsWith('/api/peer/')) probes.push(...peerProbes(route, tokens));
        else if (/^\/(appliance|login)(\/|$)/.test(route.url))
          probes.push(...pageProbes(route, tokens));
        else if (route.url === '/api/openapi.json' || route.url === '/metrics')
          probes.push(...bearerProbes(route, tokens));
        else unclassified.push(key(route));
      }
      // A route nobody classified is a route nobody thought about: declare it, then re-run.
      expect(unclassified, 'routes neither in the OpenAPI document nor classified').toEqual([]);
      // Every documented operation was registered (the document and the server agree).
      expect([...ops.keys()].filter((k) => !routes.some((r) => key(r) === k))).toEqual([]);

      const failures: string[] = [];
      let refusals = 0;
      let replaysServed = 0;
      for (const p of probes) {
        const url = concrete(p.route.url);
        let headers: Record<string, string> = { accept: 'application/json', ...p.headers };
        if (headers['x-gatehouse-peer'] === 'replay') {
          // The same signed request twice: the first passes, the second must be refused.
          const signed = signPeerRequest(KEY, 'attack', {
            method: p.route.method,
            path: url,
            body: '',
          });
          headers = { ...headers, 'x-gatehouse-peer': signed.header };
          // Past the signature check, the handler answers (often 400/409: this appliance is
          // standalone); only the signature check answers 401.
          if ((await send(a.api, p.route.method, url, headers)).status !== 401) replaysServed++;
        }
        const res = await send(a.api, p.route.method, url, headers, p.body);
        const where = `${p.what}: ${p.route.method} ${url} → ${res.status}`;
        // A health route answers 503 when this appliance is not in that role: its answer, not a fault.
        const healthAnswer = p.route.url.startsWith('/health') && res.status === 503;
        if (res.status >= 500 && !healthAnswer)
          failures.push(`${where} (server error) ${res.text.slice(0, 200)}`);
        else if (p.anyBut5xx) continue;
        else if (REFUSED.has(res.status)) refusals++;
        else if (
          p.signInOf &&
          res.status === 303 &&
          res.location?.startsWith(`/${p.signInOf}/sign-in`)
        )
          refusals++;
        else failures.push(`${where} (not refused) ${res.text.slice(0, 200)}`);
      }
      console.log(
        `attack suite: ${routes.length} routes, ${probes.length} requests, ${refusals} refusals, ${replaysServed} replays of accepted peer requests, ${failures.length} failures`,
      );
      expect(failures).toEqual([]);
      // No probe (a sign-out without CSRF token included) ended the sessions it carried.
      for (const area of ['appliance', 'login'] as const)
        expect((await a.api.call('GET', '/api/openapi.json', { auth: area })).status, area).toBe(
          200,
        );
      expect(refusals).toBeGreaterThan(routes.length * 3);
      // The replay probes replayed requests that had passed, not ones refused anyway.
      expect(replaysServed).toBeGreaterThan(0);
    },
  );
});

type OpenApi = { paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>> };
type Kind = 'public' | 'appliance' | 'login' | 'clientTicket';

/** Each documented operation (as Fastify spells its URL) and what it declares it needs. */
function operationsOf(doc: OpenApi): Map<string, Kind> {
  const out = new Map<string, Kind>();
  for (const [p, methods] of Object.entries(doc.paths))
    for (const [m, op] of Object.entries(methods)) {
      const scheme = Object.keys(op.security?.[0] ?? {})[0];
      const kind: Kind = !scheme
        ? 'public'
        : scheme === 'clientTicket'
          ? 'clientTicket'
          : scheme.startsWith('appliance')
            ? 'appliance'
            : 'login';
      out.set(`${m.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`, kind);
    }
  return out;
}

const FORGED_TICKET = 'gh1.eyJzdWIiOiJhdHRhY2sifQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** The credentials a route of `kind` must refuse. */
function wrongCredentials(kind: Kind, tokens: Record<'appliance' | 'login', string>) {
  const list: [string, Record<string, string>][] = [
    ['no credentials', {}],
    ['wrong bearer token', { authorization: 'Bearer not-a-session-token-0123456789' }],
    ['forged client ticket', { authorization: `Bearer ${FORGED_TICKET}` }],
  ];
  if (kind !== 'appliance')
    list.push(['/appliance token', { authorization: `Bearer ${tokens.appliance}` }]);
  if (kind !== 'login') list.push(['/login token', { authorization: `Bearer ${tokens.login}` }]);
  return list;
}

function apiProbes(route: Route, kind: Kind, tokens: Record<'appliance' | 'login', string>) {
  const probes: Probe[] = [];
  if (kind === 'public') probes.push({ what: 'public operation', route, anyBut5xx: true });
  else
    for (const [what, headers] of wrongCredentials(kind, tokens))
      probes.push({ what, route, headers });
  if (WRITES.has(route.method)) {
    // With the right credentials, so the body is what is refused.
    const auth: Record<string, string> =
      kind === 'appliance' || kind === 'login' ? { authorization: `Bearer ${tokens[kind]}` } : {};
    probes.push(
      { what: 'malformed JSON', route, headers: { ...auth, ...JSON_BAD }, body: '{"a":' },
      { what: 'repeated form field', route, headers: { ...auth, ...FORM }, body: 'a=1&a=2' },
    );
  }
  return probes;
}

function bearerProbes(route: Route, tokens: Record<'appliance' | 'login', string>): Probe[] {
  return [
    { what: 'no credentials', route },
    { what: 'wrong bearer token', route, headers: { authorization: 'Bearer wrong-0123456789' } },
    { what: 'forged client ticket', route, headers: { authorization: `Bearer ${FORGED_TICKET}` } },
    ...(route.url === '/metrics'
      ? [{ what: '/login token', route, headers: { authorization: `Bearer ${tokens.login}` } }]
      : []),
  ];
}

function pageProbes(route: Route, tokens: Record<'appliance' | 'login', string>): Probe[] {
  const area = route.url.startsWith('/appliance') ? 'appliance' : 'login';
  const other = area === 'appliance' ? 'login' : 'appliance';
  const html = { accept: 'text/html' };
  const probes: Probe[] = [
    { what: 'no session', route, headers: html, signInOf: area },
    {
      what: `/${other} session cookie`,
      route,
      headers: { ...html, cookie: `__Host-gh-${other}=${tokens[other]}` },
      signInOf: area,
    },
    {
      what: 'forged session cookie',
      route,
      headers: { ...html, cookie: `__Host-gh-${area}=${FORGED_TICKET}` },
      signInOf: area,
    },
  ];
  if (route.method === 'POST') {
    const cookie = `__Host-gh-${area}=${tokens[area]}`;
    probes.push(
      {
        what: 'form without CSRF token',
        route,
        headers: { ...html, ...FORM, cookie },
        body: 'a=1',
      },
      {
        what: 'repeated form field',
        route,
        headers: { ...html, ...FORM, cookie },
        body: '_csrf=a&_csrf=b',
      },
      { what: 'malformed JSON', route, headers: { ...html, ...JSON_BAD, cookie }, body: '{"a":' },
    );
  }
  return probes;
}

function peerProbes(route: Route, tokens: Record<'appliance' | 'login', string>): Probe[] {
  const url = concrete(route.url);
  const wrongKey = signPeerRequest('a-key-that-is-not-the-site-key-0123456789', 'attack', {
    method: route.method,
    path: url,
    body: '',
  });
  // Signed with the right key for another route: a captured request moved elsewhere.
  const moved = signPeerRequest(KEY, 'attack', { method: route.method, path: `${url}x`, body: '' });
  const probes: Probe[] = [
    { what: 'unsigned peer request', route },
    {
      what: 'peer request signed with a wrong key',
      route,
      headers: { 'x-gatehouse-peer': wrongKey.header },
    },
    {
      what: 'peer signature of another path',
      route,
      headers: { 'x-gatehouse-peer': moved.header },
    },
    { what: '/login token', route, headers: { authorization: `Bearer ${tokens.login}` } },
  ];
  // Replaying a read is harmless to the appliance under test, so the real replay is tried there.
  if (route.method === 'GET')
    probes.push({
      what: 'replayed peer request',
      route,
      headers: { 'x-gatehouse-peer': 'replay' },
    });
  return probes;
}
