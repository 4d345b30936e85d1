import { createHash } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestAppliance, type TestAppliance } from './support/appliance.js';
import { adminSignIn, cli } from './support/cli.js';

interface Problem {
  code: string;
  errors?: { field: string; message: string }[];
}

let t: TestAppliance;
beforeAll(async () => {
  t = await startTestAppliance({ name: 'monitored' });
});

const scrape = (token: string | undefined) =>
  t.anon.call<string | Problem>('GET', '/metrics', {
    headers: token ? { authorization: `Bearer ${token}`, accept: 'text/plain' } : {},
    auth: 'none',
  });

/** The value of one series in a scrape, e.g. `gatehouse_failover_role{role="standalone"}`. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function createToken(label: string) {
  const res = await t.api.call<{ id: string; token: string; label: string }>(
    'POST',
    '/api/appliance/monitoring/tokens',
    { json: { label } },
  );
  expect(res.status).toBe(201);
  return res.body;
}

describe('GET /metrics and its scrape tokens', () => {
  it('refuses a scrape without a token, with a wrong one, or with an admin session token', async () => {
    for (const token of [undefined, 'ghm_wrong', t.api.tokenFor('appliance')]) {
      const res = await scrape(token);
      expect(res.status).toBe(401);
      expect((res.body as Problem).code).toBe('SCRAPE_TOKEN_INVALID');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    }
  });

  it('serves Prometheus text with a token, stored only as its hash, until it is revoked', async () => {
    const created = await createToken('prometheus-1');
    expect(created.token).toMatch(/^ghm_[\w-]{40,}$/);
    const listed = await t.api.call<{ tokens: Record<string, unknown>[] }>(
      'GET',
      '/api/appliance/monitoring/tokens',
    );
    expect(listed.body.tokens).toEqual([
      expect.objectContaining({ id: created.id, label: 'prometheus-1', createdBy: 'admin' }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(created.token);

    const db = new Database(path.join(t.dataDir, 'store', 'gatehouse.db'), { readonly: true });
    try {
      const stored = (
        db
          .prepare("SELECT value FROM appliance_settings WHERE key = 'monitoring.scrape-tokens'")
          .get() as { value: string }
      ).value;
      expect(stored).not.toContain(created.token);
      expect(stored).toContain(createHash('sha256').update(created.token).digest('hex'));
    } finally {
      db.close();
    }

    const res = await scrape(created.token);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body as string;
    expect(text).toMatch(
      /^gatehouse_build_info\{appliance="monitored",product_version="\d+\.\d+\.\d+[^"]*",base_version="[^"]+",node_version="v\d+[^"]*"\} 1$/m,
    );
    expect(value(text, 'gatehouse_failover_role{role="standalone"}')).toBe(1);
    expect(value(text, 'gatehouse_failover_role{role="primary"}')).toBe(0);
    expect(value(text, 'gatehouse_accepting_new_clients')).toBe(1);
    expect(value(text, 'gatehouse_sessions_active')).toBe(0);
    expect(value(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(value(text, 'gatehouse_database_size_bytes')).toBeGreaterThan(0);
    expect(value(text, 'gatehouse_disk_size_bytes')).toBeGreaterThan(0);
    const expiry = value(text, 'gatehouse_tls_certificate_expiry_timestamp_seconds')!;
    expect(expiry * 1000).toBeGreaterThan(Date.now() + 30 * 86_400_000);
    // The sign-ins of the test support (both areas) were counted from the event log.
    expect(value(text, 'gatehouse_sign_ins_total{area="login",outcome="ok"}')).toBeGreaterThan(0);

    await t.api.call('DELETE', `/api/appliance/monitoring/tokens/${created.id}`);
    expect((await scrape(created.token)).status).toBe(401);
  });

  it('labels requests by route template and status, never by URL', async () => {
    const { token } = await createToken('routes');
    await t.api.call('GET', '/api/login/users/someone-unknown');
    await t.anon.call('GET', '/health');
    await t.anon.call('GET', '/no/such/page/12345');
    const text = (await scrape(token)).body as string;
    expect(
      value(
        text,
        'gatehouse_http_request_duration_seconds_count{method="GET",route="/api/login/users/:username",status_code="404"}',
      ),
    ).toBe(1);
    expect(
      value(
        text,
        'gatehouse_http_request_duration_seconds_count{method="GET",route="/health",status_code="200"}',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(
        text,
        'gatehouse_http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"}',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('someone-unknown');
    expect(text).not.toContain('12345');
  });

  it('refuses a bad or repeated label, naming the field, and an unknown id', async () => {
    const bad = await t.api.call<Problem>('POST', '/api/appliance/monitoring/tokens', {
      json: { label: '<script>' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0]?.field).toBe('label');
    await createToken('twice');
    const again = await t.api.call<Problem>('POST', '/api/appliance/monitoring/tokens', {
      json: { label: 'twice' },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('SCRAPE_TOKEN_EXISTS');
    const unknown = await t.api.call<Problem>(
      'DELETE',
      '/api/appliance/monitoring/tokens/00000000-0000-4000-8000-000000000000',
    );
    expect(unknown.status).toBe(404);
    // A /login administrator cannot manage scrape tokens.
    const login = await t.api.call<Problem>('GET', '/api/appliance/monitoring/tokens', {
      auth: 'login',
    });
    expect(login.status).toBe(401);
  });

  it('creates, lists and revokes tokens from the command line', async () => {
    const { args, env } = adminSignIn(t.proc, 'appliance');
    const created = await cli(
      ['appliance', 'metrics-token', 'create', ...args, '--label', 'from-cli'],
      env,
    );
    const token = /\n(ghm_\S+)\n/.exec(created.stdout)?.[1];
    const id = /id ([0-9a-f-]{36})/.exec(created.stdout)?.[1];
    expect(token && id).toBeTruthy();
    expect((await scrape(token)).status).toBe(200);
    const listed = await cli(['appliance', 'metrics-token', 'list', ...args], env);
    expect(listed.stdout).toContain(`${id}  from-cli`);
    expect(listed.stdout).not.toContain(token);
    await cli(['appliance', 'metrics-token', 'revoke', ...args, '--id', id!], env);
    expect((await scrape(token)).status).toBe(401);
  });
});
