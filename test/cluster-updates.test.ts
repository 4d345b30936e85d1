import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JumpClient } from '../src/clients/jump-client.js';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import { startTestAppliance, tempDir, until, type TestAppliance } from './support/appliance.js';
import { startTargets, type Targets } from './support/targets.js';
import {
  buildTestPackage,
  makeReleaseKey,
  uploadPackage,
  waitForSoftware,
  type UpdatesStatus,
} from './support/updates.js';
import { enrolmentToken } from './support/jump-clients.js';

const KEY = 'cluster-updates-key-0123456789abcdefghij';
const NEXT = PRODUCT_VERSION.replace(/(\d+)$/, (n) => String(Number(n) + 1));

interface NodeView {
  name: string;
  accepting: boolean;
  eligible: boolean;
  status: { productVersion: string } | null;
}

describe('updating a cluster: Distribute to Cluster, versions and accepting (S22, S23, S30)', () => {
  let primary: TestAppliance;
  let nodeA: TestAppliance;
  let nodeB: TestAppliance;
  let targets: Targets;
  let pkg: string;
  const jumps: JumpClient[] = [];

  const view = async () =>
    (await primary.api.call<{ nodes: NodeView[] }>('GET', '/api/login/cluster')).body.nodes;
  const connectJump = async (name: string) => {
    const token = await enrolmentToken(primary.api);
    const j = new JumpClient({
      site: {
        host: primary.proc.host,
        port: primary.proc.port,
        fingerprint: primary.proc.fingerprint,
      },
      name,
      group: 'g',
      token,
      allow: [targets.echo],
      region: 'east',
    });
    jumps.push(j);
    j.start();
    await until(() => j.state === 'connected', 15_000, `${name} to connect`);
    const where = j.connectedTo;
    await j.stop();
    return where;
  };

  beforeAll(async () => {
    const dir = tempDir('gh-cluster-updates-');
    const release = makeReleaseKey(dir);
    const start = (name: string, host: string) =>
      startTestAppliance({
        name,
        host,
        interApplianceKey: KEY,
        releaseKeyFiles: [release.pubFile],
      });
    [primary, nodeA, nodeB, targets, pkg] = await Promise.all([
      start('cu-primary', '127.0.0.90'),
      start('cu-node-a', '127.0.0.91'),
      start('cu-node-b', '127.0.0.92'),
      startTargets(),
      buildTestPackage({
        kind: 'product',
        version: NEXT,
        keyFile: release.keyFile,
        out: path.join(dir, `product-${NEXT}.ghpkg`),
      }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(jumps.map((j) => j.stop()));
    await targets?.close();
  });

  it('offers Distribute to Cluster only on a primary node (S30), then stages the package on every node without installing', async () => {
    const up = await uploadPackage(primary.api, pkg);
    expect(up.status).toBe(201);
    const alone = await primary.api.call('POST', `/api/appliance/updates/${up.body.id}/distribute`);
    expect(alone.status).toBe(409);
    expect(alone.body).toMatchObject({ code: 'CLUSTER_NONE' });

    for (const n of [nodeA, nodeB])
      expect(
        (
          await primary.api.call('POST', '/api/login/cluster/nodes', {
            json: { host: n.proc.host, port: n.proc.port, region: 'east', key: KEY },
          })
        ).status,
      ).toBe(201);
    const res = await primary.api.call<{ results: { node: string; ok: boolean }[] }>(
      'POST',
      `/api/appliance/updates/${up.body.id}/distribute`,
    );
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => r.ok)).toEqual([true, true]);
    for (const n of [nodeA, nodeB]) {
      const s = (
        await n.api.call<{
          staged: { id: string; version: string; source: string }[];
          installed: { product: string };
        }>('GET', '/api/appliance/updates')
      ).body;
      expect(s.staged.map((p) => [p.id, p.version, p.source])).toContainEqual([
        up.body.id,
        NEXT,
        'cluster',
      ]);
      expect(s.installed.product).toBe(PRODUCT_VERSION);
    }
    // On a traffic node there is nothing to distribute to.
    const onNode = await nodeA.api.call('POST', `/api/appliance/updates/${up.body.id}/distribute`);
    expect(onNode.status).toBe(409);
  });

  it('replaces a damaged staged copy when distributing again, and removes one that fails its install, saying what to do on that node', async () => {
    const id = (
      await nodeB.api.call<UpdatesStatus>('GET', '/api/appliance/updates')
    ).body.staged.find((p) => p.version === NEXT)!.id;
    const file = path.join(nodeB.dataDir, 'system', 'staging', `${id}.ghpkg`);
    const damage = () => {
      const bytes = readFileSync(file);
      bytes[bytes.length - 100]! ^= 0xff;
      writeFileSync(file, bytes);
    };
    const digest = () => createHash('sha256').update(readFileSync(file)).digest('hex');
    damage();
    const again = await primary.api.call<{ results: { node: string; ok: boolean }[] }>(
      'POST',
      `/api/appliance/updates/${id}/distribute`,
    );
    expect(again.body.results.every((r) => r.ok)).toBe(true);
    expect(digest()).toBe(id);

    damage();
    const started = await nodeB.api.call('POST', `/api/appliance/updates/staged/${id}/install`, {
      json: {},
    });
    expect(started.status).toBe(202);
    const failed = (await until(
      async () => {
        const s = (await nodeB.api.call<UpdatesStatus>('GET', '/api/appliance/updates')).body;
        return s.install?.phase === 'failed' ? s : false;
      },
      30_000,
      'the install on node B to fail',
    )) as UpdatesStatus;
    expect(failed.install!.error!.message).toMatch(
      /The damaged staged copy of product .* was removed, nothing was installed\. This is a traffic node: on its primary node \(cu-primary\), Distribute to Cluster again/,
    );
    expect(failed.install!.error!.message).not.toMatch(/from the update server/);
    expect(failed.staged.map((p) => p.id)).not.toContain(id);
    expect(existsSync(file)).toBe(false);
    expect(
      (await nodeB.proc.client().call<{ productVersion: string }>('GET', '/health')).body
        .productVersion,
    ).toBe(PRODUCT_VERSION);
    // Distributing again stages it whole.
    await primary.api.call('POST', `/api/appliance/updates/${id}/distribute`);
    expect(digest()).toBe(id);
  });

  it('sends no clients to a node on another version; installing on the primary node stops every node accepting (S23)', async () => {
    await until(async () => (await view()).every((n) => n.eligible), 10_000, 'both nodes eligible');
    const id = (
      await nodeA.api.call<UpdatesStatus>('GET', '/api/appliance/updates')
    ).body.staged.find((p) => p.version === NEXT)!.id;

    // Node A runs the next version: the primary sends it nobody.
    expect(
      (await nodeA.api.call('POST', `/api/appliance/updates/staged/${id}/install`, { json: {} }))
        .status,
    ).toBe(202);
    await waitForSoftware(nodeA.proc.client(), NEXT);
    await until(
      async () =>
        (await view()).find((n) => n.name === 'cu-node-a')?.status?.productVersion === NEXT,
      10_000,
      'the primary to see node A on the new version',
    );
    expect((await view()).find((n) => n.name === 'cu-node-a')!.eligible).toBe(false);
    for (let i = 0; i < 3; i++) expect(await connectJump(`old-${i}`)).toBe('cu-node-b');

    // The primary node installs: at once no traffic node accepts new clients (S23).
    expect(
      (await primary.api.call('POST', `/api/appliance/updates/staged/${id}/install`, { json: {} }))
        .status,
    ).toBe(202);
    await waitForSoftware(primary.proc.client(), NEXT);
    await primary.api.signIn(
      'login',
      'admin',
      (await import('./support/appliance.js')).LOGIN_PASSWORD,
    );
    const after = await view();
    expect(after.map((n) => n.accepting)).toEqual([false, false]);
    const installEvents = await primary.api.call<{ items: { action: string; target: string }[] }>(
      'GET',
      '/api/login/logs?action=cluster.node-not-accepting',
    );
    expect(installEvents.body.items.map((e) => e.target).sort()).toEqual([
      'cu-node-a',
      'cu-node-b',
    ]);

    // Re-enable the upgraded node (S26): clients go to it, not to the old-version node B.
    await primary.api.call('PATCH', '/api/login/cluster/nodes/cu-node-b', {
      json: { accepting: true },
    });
    await primary.api.call('PATCH', '/api/login/cluster/nodes/cu-node-a', {
      json: { accepting: true },
    });
    await until(
      async () => (await view()).find((n) => n.name === 'cu-node-a')!.eligible,
      10_000,
      'node A eligible',
    );
    expect((await view()).find((n) => n.name === 'cu-node-b')!.eligible).toBe(false);
    for (let i = 0; i < 3; i++) expect(await connectJump(`new-${i}`)).toBe('cu-node-a');
  });
});
