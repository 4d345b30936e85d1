import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { startPrometheus, type Prometheus } from './support/prometheus.js';
import { startTargets, type Targets } from './support/targets.js';
import { enrolmentToken } from './support/jump-clients.js';

const KEY = 'monitoring-prometheus-key-0123456789abcdef';

let a: TestAppliance;
let b: TestAppliance;
let n: TestAppliance;
let targets: Targets;
let prom: Prometheus;
let revokedId: string;

async function token(t: TestAppliance, label: string) {
  const res = await t.api.call<{ id: string; token: string }>(
    'POST',
    '/api/appliance/monitoring/tokens',
    { json: { label } },
  );
  expect(res.status).toBe(201);
  return res.body;
}
const target = (t: TestAppliance, job: string, tok: string) => ({
  job,
  address: `${t.proc.host}:${t.proc.port}`,
  certPem: t.proc.certPem,
  token: tok,
});
/** Wait until a PromQL query yields `expected` (as Prometheus scraped it). */
const sees = (promql: string, expected: number, what = promql) =>
  until(async () => (await prom.scalar(promql)) === expected, 20_000, what, 250);

beforeAll(async () => {
  [a, b, n, targets] = await Promise.all([
    startTestAppliance({ name: 'mon-a', host: '127.0.0.71', interApplianceKey: KEY }),
    startTestAppliance({ name: 'mon-b', host: '127.0.0.72', interApplianceKey: KEY }),
    startTestAppliance({ name: 'mon-n', host: '127.0.0.73', interApplianceKey: KEY }),
    startTargets(),
  ]);
  const revoked = await token(a, 'soon-revoked');
  revokedId = revoked.id;
  prom = await startPrometheus([
    target(a, 'a', (await token(a, 'prometheus')).token),
    target(b, 'b', (await token(b, 'prometheus')).token),
    target(n, 'n', (await token(n, 'prometheus')).token),
    target(a, 'wrong', 'ghm_not-a-token-of-this-appliance'),
    target(a, 'revoked', revoked.token),
  ]);
});
afterAll(async () => {
  await targets?.close();
});

describe('a real Prometheus scraping a failover pair and a traffic node over TLS', () => {
  it('scrapes with a valid token, and is refused with a wrong or revoked one', async () => {
    for (const job of ['a', 'b', 'n', 'revoked']) await sees(`up{job="${job}"}`, 1, `${job} up`);
    // A wrong token is never up: wait for its first scrape, which must have been refused.
    await sees('up{job="wrong"}', 0, 'the wrong token to be refused');
    expect(
      await prom.scalar(
        'count(gatehouse_build_info{job=~"a|b|n", appliance=~"mon-.", product_version!=""})',
      ),
    ).toBe(3);
    await a.api.call('DELETE', `/api/appliance/monitoring/tokens/${revokedId}`);
    await sees('up{job="revoked"}', 0, 'the revoked token to be refused');
  });

  it('sees a session start, run and end', async () => {
    const started = (await prom.scalar('gatehouse_sessions_started_total{job="a"}')) ?? -1;
    expect(started).toBe(0);
    const token = await enrolmentToken(a.api);
    const site = { host: a.proc.host, port: a.proc.port, fingerprint: a.proc.fingerprint };
    const jump = new JumpClient({
      site,
      name: 'mon-web',
      group: 'g',
      token,
      allow: [targets.echo],
    });
    jump.start();
    const rep = await RepresentativeConsole.signIn(site, 'admin', LOGIN_PASSWORD);
    try {
      await sees('gatehouse_connected_clients{job="a", kind="jump-client"}', 1);
      const { socket } = await rep.openSession('mon-web', targets.echo);
      await sees('gatehouse_sessions_active{job="a"}', 1);
      await sees('gatehouse_sessions_started_total{job="a"}', 1);
      socket.end();
      await sees('gatehouse_sessions_active{job="a"}', 0);
    } finally {
      await rep.close();
      await jump.stop();
    }
  });

  it('sees the pair established, a Sync Now, a role change and the relationship broken', async () => {
    const established = await a.api.call('POST', '/api/login/failover/establish', {
      json: {
        backupHost: b.proc.host,
        backupPort: b.proc.port,
        reverseHost: a.proc.host,
        reversePort: a.proc.port,
      },
    });
    expect(established.status).toBe(201);
    await sees('gatehouse_failover_role{job="a", role="primary"}', 1);
    await sees('gatehouse_failover_role{job="b", role="backup"}', 1);
    await sees('gatehouse_failover_peer_reachable{job="b"}', 1);

    const before = (await prom.scalar('gatehouse_failover_syncs_total{job="b", result="ok"}'))!;
    const t0 = Date.now() / 1000;
    expect((await a.api.call('POST', '/api/login/failover/sync')).status).toBe(200);
    await until(
      async () =>
        (await prom.scalar('gatehouse_failover_syncs_total{job="b", result="ok"}'))! > before &&
        (await prom.scalar('gatehouse_failover_last_sync_timestamp_seconds{job="b"}'))! > t0 - 1,
      20_000,
      'the Sync Now in the backup series',
      250,
    );
    expect(await prom.scalar('gatehouse_failover_synced_rows_total{job="b"}')).toBeGreaterThan(0);

    const generation = (await prom.scalar('gatehouse_failover_generation{job="a"}'))!;
    const toBackup = await a.api.call('POST', '/api/login/failover/become-backup', { json: {} });
    expect(toBackup.status).toBe(200);
    await sees('gatehouse_failover_role{job="b", role="primary"}', 1);
    await sees('gatehouse_failover_role{job="a", role="backup"}', 1);
    await sees('gatehouse_accepting_new_clients{job="a"}', 0);
    expect(await prom.scalar('gatehouse_failover_generation{job="b"}')).toBeGreaterThan(generation);

    expect(await prom.scalar('gatehouse_failover_broken{job="b"}')).toBe(0);
    expect((await b.api.call('POST', '/api/login/failover/break')).status).toBe(200);
    await sees('gatehouse_failover_broken{job="b"}', 1);
    await sees('gatehouse_failover_broken{job="a"}', 1);
    await sees('gatehouse_failover_role{job="b", role="standalone"}', 1);
    const since = (await prom.scalar(
      'gatehouse_failover_broken_since_timestamp_seconds{job="b"}',
    ))!;
    expect(Math.abs(since - Date.now() / 1000)).toBeLessThan(60);
  });

  it('sees a traffic node drained on its primary node and on the node itself', async () => {
    const added = await b.api.call<{ name: string }>('POST', '/api/login/cluster/nodes', {
      json: { host: n.proc.host, port: n.proc.port, region: 'east', key: KEY },
    });
    expect(added.status).toBe(201);
    await sees('gatehouse_cluster_nodes{job="b", state="serving"}', 1);
    await sees('gatehouse_cluster_node_accepting{job="b", node="mon-n"}', 1);
    const drained = await b.api.call('PATCH', '/api/login/cluster/nodes/mon-n', {
      json: { accepting: false },
    });
    expect(drained.status).toBe(200);
    await sees('gatehouse_cluster_node_accepting{job="b", node="mon-n", region="east"}', 0);
    await sees('gatehouse_cluster_nodes{job="b", state="not-accepting"}', 1);
    await sees('gatehouse_accepting_new_clients{job="n"}', 0);
    expect(
      await prom.scalar('gatehouse_cluster_node_last_contact_timestamp_seconds{node="mon-n"}'),
    ).toBeGreaterThan(Date.now() / 1000 - 30);
  });
});
