import { describe, expect, it } from 'vitest';
import type { ApplianceClient } from '../../src/clients/admin-client.js';
import type { Problem } from '../../src/shared/errors.js';
import { ADMIN_PASSWORD, startTestAppliance, type TestAppliance } from '../support/appliance.js';
import { cli } from '../support/cli.js';

const VICTIM_PASSWORD = 'Right-Horse-987z';

/** A client that speaks from `address` (any of 127.0.0.0/8): another machine, to the appliance. */
function from(t: TestAppliance, address: string): ApplianceClient {
  return t.proc.client({ localAddress: address });
}

async function signIn(
  c: ApplianceClient,
  area: 'appliance' | 'login',
  username: string,
  password: string,
  cookie?: string,
) {
  return c.call<Problem>('POST', `/api/${area}/session`, {
    json: { username, password },
    headers: cookie ? { cookie } : {},
    auth: 'none',
  });
}

/** Sign in through the web form, as a browser does (pre-session cookie and CSRF field). */
async function signInForm(
  c: ApplianceClient,
  area: 'appliance' | 'login',
  username: string,
  password: string,
  cookies: string[] = [],
) {
  const form = await c.call<string>('GET', `/${area}/sign-in`, {
    headers: { accept: 'text/html', cookie: cookies.join('; ') },
  });
  const pre = String(form.headers['set-cookie']).split(';')[0]!;
  const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(form.body)![1]!;
  return c.call<string>('POST', `/${area}/sign-in`, {
    raw: Buffer.from(new URLSearchParams({ _csrf: csrf, username, password }).toString()),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      cookie: [pre, ...cookies].join('; '),
    },
  });
}

const deviceCookieOf = (res: { headers: Record<string, unknown> }, area: string) =>
  ([res.headers['set-cookie']].flat() as string[])
    .find((c) => c.startsWith(`__Host-gh-device-${area}=`))!
    .split(';')[0]!;

/** Wrong passwords until the account is in backoff (a 429), as a stranger would. */
async function hammer(c: ApplianceClient, area: 'appliance' | 'login', username: string) {
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++)
    statuses.push((await signIn(c, area, username, `guess-${i}`)).status);
  return statuses;
}

describe('sign-in backoff', () => {
  it('slows a stranger without locking out the real user (known address, known browser, CLI unlock)', async () => {
    const t = await startTestAppliance({ name: 'backoff' });
    await t.api.call('POST', '/api/login/users', {
      json: { username: 'victim', displayName: 'V', password: VICTIM_PASSWORD, isAdmin: true },
    });
    const office = from(t, '127.0.0.10');
    const laptop = from(t, '127.0.0.11');
    const cafe = from(t, '127.0.0.12');
    const stranger = from(t, '127.0.0.66');
    // The victim signs in once from the office and once (by the web form) from the laptop.
    expect((await signIn(office, 'login', 'victim', VICTIM_PASSWORD)).status).toBe(201);
    const browser = await signInForm(laptop, 'login', 'victim', VICTIM_PASSWORD);
    expect(browser.status).toBe(303);
    const device = deviceCookieOf(browser, 'login');

    const statuses = await hammer(stranger, 'login', 'victim');
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.at(-1)).toBe(429);
    // The stranger is refused even with the right password; so is a new address of the victim.
    expect((await signIn(stranger, 'login', 'victim', VICTIM_PASSWORD)).status).toBe(429);
    expect((await signIn(cafe, 'login', 'victim', VICTIM_PASSWORD)).status).toBe(429);
    // The real user passes: from a known address, and with a known browser from a new address.
    expect((await signIn(office, 'login', 'victim', VICTIM_PASSWORD)).status).toBe(201);
    expect((await signIn(cafe, 'login', 'victim', VICTIM_PASSWORD, device)).status).toBe(201);
    // A device cookie is bound to its account: it does not pass the backoff of another.
    await hammer(stranger, 'appliance', 'admin');
    expect((await signIn(cafe, 'appliance', 'admin', ADMIN_PASSWORD, device)).status).toBe(429);

    // The CLI lifts every backoff at once, on the data directory of the running appliance.
    expect((await signIn(from(t, '127.0.0.13'), 'login', 'victim', VICTIM_PASSWORD)).status).toBe(
      429,
    );
    const out = await cli(['appliance', 'unlock', '--data-dir', t.dataDir]);
    expect(out.stdout).toMatch(
      /Lifted the sign-in backoff of \/appliance accounts and \/login accounts/,
    );
    expect((await signIn(from(t, '127.0.0.13'), 'login', 'victim', VICTIM_PASSWORD)).status).toBe(
      201,
    );
    const admin = await signInForm(from(t, '127.0.0.14'), 'appliance', 'admin', ADMIN_PASSWORD);
    expect(admin.status).toBe(303);
    const log = await t.api.call<{ items: { action: string }[] }>(
      'GET',
      '/api/login/logs?action=auth.unlocked',
    );
    expect(log.body.items).toHaveLength(1);
  }, 120_000);

  it('answers alike, in similar time, for an existing and an unknown username', async () => {
    const t = await startTestAppliance({ name: 'enumerate' });
    type Seen = { status: number; code: string; detail: string; ms: number };
    const attempt = async (
      c: ApplianceClient,
      area: 'appliance' | 'login',
      u: string,
      i: number,
    ) => {
      const started = performance.now();
      const res = await signIn(c, area, u, `guess-${i}`);
      return {
        status: res.status,
        code: res.body.code,
        // The wait in seconds may differ by one between two runs.
        detail: res.body.detail.replace(/\d+ s\b/, 'N s'),
        ms: performance.now() - started,
      };
    };
    for (const area of ['appliance', 'login'] as const) {
      const [realClient, ghostClient] = [from(t, '127.0.0.20'), from(t, '127.0.0.21')];
      const real: Seen[] = [];
      const ghost: Seen[] = [];
      // Asked alternately, each going first in turn: a load that drifts while the other test
      // files run falls on both alike (measured one after the other, one full run saw 3.75x).
      for (let i = 0; i < 8; i++) {
        const pair = [
          () => attempt(realClient, area, 'admin', i).then((s) => real.push(s)),
          () => attempt(ghostClient, area, 'nobody-here', i).then((s) => ghost.push(s)),
        ];
        if (i % 2) pair.reverse();
        for (const ask of pair) await ask();
      }
      const shape = (s: Seen[]) => s.map(({ status, code, detail }) => ({ status, code, detail }));
      // The same answers: five refusals of the password, then the backoff (where it starts may
      // move by an attempt when a loaded machine takes longer than a second per attempt).
      expect(shape(ghost).slice(0, 5), area).toEqual(shape(real).slice(0, 5));
      expect(shape(ghost).at(-1), area).toEqual(shape(real).at(-1));
      expect(new Set(shape(ghost).map((x) => JSON.stringify(x))), area).toEqual(
        new Set(shape(real).map((x) => JSON.stringify(x))),
      );
      expect(real.at(-1)!.status).toBe(429);
      const median = (s: Seen[]) => s.map((x) => x.ms).sort((a, b) => a - b)[s.length >> 1]!;
      // Both cost one password hash (same parameters: DUMMY_PASSWORD_HASH): a lookup that
      // skipped it answers in about a millisecond against tens for a hash. `npm run bench --
      // sign-in` measured 1.12x and 0.93x on the shared machine at load 20-30
      // (docs/benchmarks.md); the bounds leave room for 8 samples on a loaded machine.
      expect(median(ghost) / median(real), area).toBeGreaterThan(0.4);
      expect(median(ghost) / median(real), area).toBeLessThan(2.5);
    }
  }, 120_000);
});
