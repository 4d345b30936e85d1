import { writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { GATEHOUSE_BIN, startUpdateServerProcess } from '../../src/lab/processes.js';
import { generateEd25519 } from '../../src/shared/crypto.js';
import { APPLIANCE_AUTH_SCHEME } from '../../src/updates/download-key.js';
import { tempDir } from '../support/appliance.js';
import {
  FORM,
  JSON_BAD,
  REFUSED,
  routeKey,
  send,
  withRouteList,
  WRITES,
  type Route,
} from '../support/attack.js';

const exec = promisify(execFile);

/** Answering without credentials by design, each with the reason. */
const PUBLIC: Record<string, string> = {
  'GET /health': 'liveness; tells only that it runs and how many packages it holds',
  'GET /static/style.css': 'stylesheet',
  'GET /favicon.ico': 'browsers ask for it',
  'GET /admin/sign-in': 'the operator sign-in form',
  'POST /admin/sign-in': 'signing in',
  'GET /': 'the download-key page for air-gapped sites (S10)',
  'POST /':
    'takes a download key; lists packages only for an enrolled key (finding 4, test/security/update-server-enrolment.test.ts)',
};

/** A syntactically plausible download key whose signature is garbage. */
const FORGED_KEY = `${Buffer.from('{"appliance":"victim"}').toString('base64url')}.${'A'.repeat(86)}`;
const SHA = 'a'.repeat(64);

type Probe = { what: string; route: Route; headers?: Record<string, string>; body?: string };

describe('attack suite: update server', () => {
  it('every operator page and download route refuses missing, wrong and forged credentials and malformed bodies', async () => {
    const root = tempDir('gh-attack-us-');
    const dataDir = path.join(root, 'server');
    writeFileSync(path.join(root, 'release.pub'), generateEd25519().publicKeyPem);
    writeFileSync(path.join(root, 'operator.txt'), 'Catalogue-Keeper-Attack-7\n');
    await exec(process.execPath, [
      GATEHOUSE_BIN,
      ...['update-server', 'init', '--data-dir', dataDir, '--address', '127.0.0.1'],
      ...['--release-key', path.join(root, 'release.pub')],
      ...['--admin-password-file', path.join(root, 'operator.txt')],
    ]);
    const [server, routes] = await withRouteList(() => startUpdateServerProcess(dataDir));
    const client = server.client();
    try {
      const probes: Probe[] = [];
      const unclassified: string[] = [];
      for (const route of routes) {
        const k = routeKey(route);
        if (PUBLIC[k]) {
          if (WRITES.has(route.method))
            probes.push(
              { what: 'malformed JSON', route, headers: JSON_BAD, body: '{"a":' },
              { what: 'repeated form field', route, headers: FORM, body: 'a=1&a=2' },
            );
        } else if (route.url.startsWith('/admin')) {
          const html = { accept: 'text/html' };
          probes.push(
            { what: 'no session', route, headers: html },
            {
              what: 'forged session',
              route,
              headers: { ...html, cookie: `__Host-ghus-admin=${SHA}` },
            },
          );
          if (route.method === 'POST')
            probes.push({
              what: 'repeated form field',
              route,
              headers: { ...html, ...FORM },
              body: '_csrf=a&_csrf=b',
            });
        } else if (route.url.startsWith('/api/')) {
          probes.push(
            { what: 'no credentials', route },
            { what: 'wrong scheme', route, headers: { authorization: `Bearer ${FORGED_KEY}` } },
            {
              what: 'forged download key',
              route,
              headers: { authorization: `${APPLIANCE_AUTH_SCHEME} ${FORGED_KEY}` },
            },
            {
              what: 'forged download ticket',
              route,
              body: undefined,
              headers: { 'x-probe-ticket': '1' },
            },
          );
          if (WRITES.has(route.method))
            probes.push(
              { what: 'malformed JSON', route, headers: JSON_BAD, body: '{"a":' },
              { what: 'repeated form field', route, headers: FORM, body: 'a=1&a=2' },
            );
        } else unclassified.push(k);
      }
      expect(unclassified, 'routes nobody classified').toEqual([]);

      const failures: string[] = [];
      let refusals = 0;
      for (const p of probes) {
        let url = p.route.url.replace(/:[A-Za-z_]+/g, SHA);
        const headers: Record<string, string> = { accept: 'application/json', ...p.headers };
        if (headers['x-probe-ticket']) url += `?ticket=${FORGED_KEY}`;
        const res = await send(client, p.route.method, url, headers, p.body);
        const where = `${p.what}: ${p.route.method} ${url} → ${res.status}`;
        const toSignIn = res.status === 303 && res.location === '/admin/sign-in';
        if (res.status >= 500) failures.push(`${where} (server error) ${res.text.slice(0, 200)}`);
        else if (REFUSED.has(res.status) || (p.route.url.startsWith('/admin') && toSignIn))
          refusals++;
        else failures.push(`${where} (not refused) ${res.text.slice(0, 200)}`);
      }
      console.log(
        `attack suite (update server): ${routes.length} routes, ${probes.length} requests, ${refusals} refusals, ${failures.length} failures`,
      );
      expect(failures).toEqual([]);
      expect(refusals).toBe(probes.length);
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
