import { afterAll, describe, expect, it } from 'vitest';
import { JumpClient } from '../src/clients/jump-client.js';
import {
  establishPair,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { startTargets } from './support/targets.js';
import { enrolmentToken } from './support/jump-clients.js';

const KEY = 'cluster-failover-key-0123456789abcdefghi';

const clusterOf = async (t: TestAppliance) =>
  (
    await t.api.call<{
      role: string;
      membership: { primary: string } | null;
      nodes: { name: string; eligible: boolean }[];
    }>('GET', '/api/login/cluster')
  ).body;

const enableAutomaticUpdates = (t: TestAppliance) =>
  t.api.call('PUT', '/api/appliance/updates/automatic', { json: { enabled: true } });

/** S5: never in a failover relationship, never in a cluster; the refusal says where it stands. */
async function expectAutomaticUpdatesRefused(t: TestAppliance, where: RegExp) {
  const res = await enableAutomaticUpdates(t);
  expect(res.status).toBe(409);
  expect(res.body).toMatchObject({ code: 'UPDATE_AUTOMATIC_NOT_STANDALONE' });
  expect((res.body as { detail: string }).detail).toMatch(where);
  const now = await t.api.call<{ automatic: { enabled: boolean } }>(
    'GET',
    '/api/appliance/updates',
  );
  expect(now.body.automatic.enabled).toBe(false);
}

describe('a failover backup of a primary node (S17)', () => {
  const jumps: JumpClient[] = [];
  afterAll(async () => {
    await Promise.all(jumps.map((j) => j.stop()));
  });

  it('receives the cluster with the sync and takes it over as the primary node when it becomes primary', async () => {
    const [a, b, node, targets] = await Promise.all([
      startTestAppliance({ name: 'cf-primary', host: '127.0.0.100', interApplianceKey: KEY }),
      startTestAppliance({ name: 'cf-backup', host: '127.0.0.101', interApplianceKey: KEY }),
      startTestAppliance({ name: 'cf-node', host: '127.0.0.102', interApplianceKey: KEY }),
      startTargets(),
    ]);
    const added = await a.api.call('POST', '/api/login/cluster/nodes', {
      json: { host: node.proc.host, port: node.proc.port, region: 'east', key: KEY },
    });
    expect(added.status).toBe(201);
    // S5: a primary node and its traffic node refuse automatic updates; a standalone accepts.
    await expectAutomaticUpdatesRefused(a, /primary node of a cluster/);
    await expectAutomaticUpdatesRefused(node, /traffic node of a cluster/);
    expect((await enableAutomaticUpdates(b)).status).toBe(200);
    expect(
      (
        await b.api.call('PUT', '/api/appliance/updates/automatic', {
          json: { enabled: false },
        })
      ).status,
    ).toBe(200);
    const est = await establishPair(a, b);
    expect(est.status).toBe(201);
    expect((await a.api.call('POST', '/api/login/failover/sync')).status).toBe(200);

    // After the sync the backup's users, settings and files are exactly the primary's (S16).
    type Integrity = { tables: Record<string, { count: number; digest: string }> };
    const [ia, ib] = await Promise.all(
      [a, b].map(async (t) => (await t.api.call<Integrity>('GET', '/api/login/integrity')).body),
    );
    for (const table of ['users', 'site_settings', 'files'])
      expect(ib!.tables[table]!.digest).toBe(ia!.tables[table]!.digest);
    expect(ia!.tables.users!.count).toBeGreaterThan(0);

    // The backup holds the cluster's nodes but does not manage them while it is the backup.
    const onBackup = await clusterOf(b);
    expect(onBackup.nodes.map((n) => n.name)).toEqual(['cf-node']);
    expect(onBackup.nodes[0]!.eligible).toBe(false);
    await expectAutomaticUpdatesRefused(b, /backup primary node of a cluster/);
    await expectAutomaticUpdatesRefused(a, /primary node of a cluster/);
    const refused = await b.api.call('POST', '/api/login/cluster/sync');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'CLUSTER_ON_BACKUP' });

    const roles = await a.api.call('POST', '/api/login/failover/become-backup', { json: {} });
    expect(roles.status).toBe(200);
    await until(
      async () => (await clusterOf(b)).nodes[0]?.eligible === true,
      10_000,
      'the new primary to manage the node',
    );
    await until(
      async () => (await clusterOf(node)).membership?.primary === 'cf-backup',
      10_000,
      'the node to follow its new primary',
    );

    // Clients of the site now go through the new primary to the traffic node.
    const token = await enrolmentToken(b.api);
    const j = new JumpClient({
      site: { host: b.proc.host, port: b.proc.port, fingerprint: b.proc.fingerprint },
      name: 'cf-jump',
      group: 'g',
      token,
      allow: [targets.echo],
    });
    jumps.push(j);
    j.start();
    await until(() => j.state === 'connected', 15_000, 'the Jump Client to connect');
    expect(j.connectedTo).toBe('cf-node');
    // The old primary, now the backup, takes no clients.
    const toOld = await a.anon.call('POST', '/api/client/jump-clients/enrol', {
      json: { name: 'x', token, publicKey: 'unused', version: '0.0.1' },
    });
    expect(toOld.status).toBe(503);
    expect(toOld.body).toMatchObject({ code: 'NOT_ACCEPTING_CLIENTS' });
    await targets.close();
  });
});
