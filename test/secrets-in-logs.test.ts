/**
 * No secret in logs (BRIEF, CONVENTIONS): every secret a request carries or an answer shows
 * once — passwords, session and CSRF tokens, scrape and enrolment tokens — appears in no line
 * the appliance writes, on stdout or in its log files, even at the trace level.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initAppliance } from '../src/appliance/init.js';
import type { ApplianceClient } from '../src/clients/admin-client.js';
import { startApplianceProcess, type ApplianceProcess } from '../src/lab/processes.js';
import { ADMIN_PASSWORD, LOGIN_PASSWORD, tempDir } from './support/appliance.js';

let proc: ApplianceProcess;
let api: ApplianceClient;
let dataDir: string;

beforeAll(async () => {
  dataDir = path.join(tempDir(), 'data');
  await initAppliance({
    dataDir,
    name: 'secrets-in-logs',
    hostnames: ['site.gatehouse.test'],
    addresses: ['127.0.0.1'],
    applianceAdmin: { username: 'admin', password: ADMIN_PASSWORD },
    loginAdmin: { username: 'admin', password: LOGIN_PASSWORD },
  });
  proc = await startApplianceProcess(dataDir, { logLevel: 'trace' });
  api = proc.client();
  // ~13 s alone on a shared 2-core machine (init and start); 4× that under CI's load is 52 s.
}, 180_000);

afterAll(async () => {
  await api?.close();
  await proc?.stop().catch(() => proc.kill());
});

/** Sign in to /login through the web form, as a browser does (pre-session cookie and CSRF field). */
async function signInForm(username: string, password: string) {
  const c = proc.client();
  const page = await c.call<string>('GET', '/login/sign-in', { headers: { accept: 'text/html' } });
  const pre = String(page.headers['set-cookie']).split(';')[0]!;
  const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(page.body)![1]!;
  const res = await c.call<string>('POST', '/login/sign-in', {
    raw: Buffer.from(new URLSearchParams({ _csrf: csrf, username, password }).toString()),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      cookie: pre,
    },
  });
  await c.close();
  return { ...res, pre, csrf };
}

/** Every line the appliance wrote: its stdout and stderr, and its log files. */
function logLines(): string[] {
  const logs = path.join(dataDir, 'logs');
  const files = readdirSync(logs).filter((f) => f.endsWith('.log'));
  expect(files.length).toBeGreaterThan(0);
  return [
    ...proc.output,
    ...files.flatMap((f) => readFileSync(path.join(logs, f), 'utf8').split('\n')),
  ];
}

describe('log lines', () => {
  it('carry no password, session token, CSRF token, scrape or enrolment token given or shown in a request', async () => {
    const secrets: string[] = [ADMIN_PASSWORD, LOGIN_PASSWORD];
    const sessions = await Promise.all([
      api.signIn('appliance', 'admin', ADMIN_PASSWORD),
      api.signIn('login', 'admin', LOGIN_PASSWORD),
    ]);
    for (const s of sessions) secrets.push(s.token, s.csrfToken);

    // A wrong password, in the API and in the sign-in form.
    const wrong = 'Wrong-Guess-Secret-9';
    secrets.push(wrong);
    const refused = await proc
      .client()
      .call('POST', '/api/login/session', { json: { username: 'admin', password: wrong } });
    expect(refused.status).toBe(401);
    // As a browser does (pre-session cookie and CSRF field), so the password is checked: without
    // them the form is refused (403) before its password is looked at.
    const form = await signInForm('admin', wrong);
    expect(form.status, form.body).toBe(401);
    secrets.push(form.pre.split('=')[1]!, form.csrf);
    // And right: the session cookie the answer sets is a secret too.
    const good = await signInForm('admin', LOGIN_PASSWORD);
    expect(good.status, good.body).toBe(303);
    const cookie = ([good.headers['set-cookie']].flat() as string[])
      .find((c) => c.startsWith('__Host-gh-login='))!
      .split(';')[0]!;
    secrets.push(cookie.split('=')[1]!);

    // A new user's password, a reset one, and one in a body refused for an unknown field.
    const created = 'New-User-Secret-77';
    const reset = 'Reset-User-Secret-88';
    const refusedBody = 'Refused-Body-Secret-66';
    secrets.push(created, reset, refusedBody);
    const user = await api.call('POST', '/api/login/users', {
      json: { username: 'ann.rep', displayName: 'Ann', password: created },
    });
    expect(user.status).toBe(201);
    const patched = await api.call('PATCH', '/api/login/users/ann.rep', {
      json: { password: reset },
    });
    expect(patched.status).toBe(200);
    const bad = await api.call('POST', '/api/login/users', {
      json: { username: 'bob.rep', password: refusedBody, colour: 'blue' },
    });
    expect(bad.status).toBe(400);
    // Signing in with it.
    const annSignIn = await proc
      .client()
      .call('POST', '/api/login/session', { json: { username: 'ann.rep', password: reset } });
    // Her password was checked and taken (a wrong one is a 401): she is no administrator.
    expect(annSignIn.status, JSON.stringify(annSignIn.body)).toBe(403);
    expect((annSignIn.body as { code?: string }).code).toBe('AUTH_NOT_ADMIN');

    // Tokens an answer shows once.
    const scrape = await api.call<{ token: string }>('POST', '/api/appliance/monitoring/tokens', {
      json: { label: 'prometheus' },
    });
    expect(scrape.status).toBe(201);
    const enrolment = await api.call<{ token: string }>('POST', '/api/login/jump-clients/tokens', {
      json: { uses: 1 },
    });
    expect(enrolment.status).toBe(201);
    secrets.push(scrape.body.token, enrolment.body.token);
    // A scrape with the token: it reaches the server in a header.
    const metrics = await proc.client().call('GET', '/metrics', {
      headers: { authorization: `Bearer ${scrape.body.token}` },
    });
    expect(metrics.status).toBe(200);

    // Written out: the lines of these requests are in the files once the appliance stops.
    await proc.stop();
    const lines = logLines();
    expect(lines.some((l) => l.includes('/api/login/users'))).toBe(true);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      const leaks = lines.filter((l) => l.includes(secret));
      expect(leaks, `a secret (${secret.slice(0, 4)}…) in a log line`).toEqual([]);
    }
  }, 120_000);
});
