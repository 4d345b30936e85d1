import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, until, type TestAppliance } from './support/appliance.js';
import {
  startNamedAppliance,
  NEXT_VERSION,
  runUpgrade,
  writeInventory,
} from './support/deployment.js';
import { buildTestPackage, makeReleaseKey } from './support/updates.js';

const KEY = 'upgrade-recover-key-0123456789abcdefghijk';
/** An install reserve no disk has: the install on that node is refused (UPDATE_DISK_FULL). */
const IMPOSSIBLE_RESERVE_MIB = 1024 * 1024 * 1024;

interface NodeView {
  name: string;
  accepting: boolean;
}

describe('gatehouse upgrade: recovering from a failed install in a cluster', () => {
  it('sets every healthy traffic node accepting again when an install step fails, lists each node in the report, and resume drains again before installing', async () => {
    const dir = tempDir('gh-uprecover-');
    const release = makeReleaseKey(dir);
    const packages = path.join(dir, 'packages');
    mkdirSync(packages);
    const start = (name: string, host: string) =>
      startNamedAppliance({ name, host, interApplianceKey: KEY, releasePub: release.pubFile });
    const [p, n1, n2] = (await Promise.all([
      start('ur-primary', '127.0.0.131'),
      start('ur-node-1', '127.0.0.132'),
      start('ur-node-2', '127.0.0.133'),
      buildTestPackage({
        kind: 'product',
        version: NEXT_VERSION,
        keyFile: release.keyFile,
        out: path.join(packages, `product-${NEXT_VERSION}.ghpkg`),
      }),
    ])) as TestAppliance[];
    for (const n of [n1!, n2!]) {
      const res = await p!.api.call('POST', '/api/login/cluster/nodes', {
        json: { host: n.proc.host, port: n.proc.port, region: 'east', key: KEY },
      });
      expect(res.status).toBe(201);
    }
    const view = async () =>
      (await p!.api.call<{ nodes: NodeView[] }>('GET', '/api/login/cluster')).body.nodes;
    const setReserve = (t: TestAppliance, reserveMiB: number) =>
      t.api.call('PUT', '/api/appliance/updates/reserve', { json: { reserveMiB } });
    for (const n of [n1!, n2!])
      expect((await setReserve(n, IMPOSSIBLE_RESERVE_MIB)).status).toBe(200);
    const inventory = await writeInventory(
      dir,
      [p!, n1!, n2!],
      `${p!.proc.host}:${p!.proc.port}`,
      'none',
    );
    const args = ['--inventory', inventory, '--strategy', 'cluster', '--packages', packages];

    const first = await runUpgrade(['run', ...args]).done;
    expect(first.code, first.out).toBe(1);
    expect(first.out).toMatch(/✗ .*\n {2}\[UPDATE_DISK_FULL\]/);
    // The node drained for the install is back in service, and the output says so.
    expect(first.out).toMatch(/Traffic nodes now/);
    expect((await view()).every((n) => n.accepting)).toBe(true);
    expect(first.out).toMatch(/ur-node-\d: accepting \(set accepting again\), healthy, product /);
    const report = JSON.parse(
      readFileSync(path.join(dir, 'gatehouse-upgrade', 'report.json'), 'utf8'),
    ) as { outcome: string; nodes: { name: string; accepting: boolean; restored: boolean }[] };
    expect(report.outcome).toBe('failed');
    expect(report.nodes.map((n) => n.name).sort()).toEqual(['ur-node-1', 'ur-node-2']);
    expect(report.nodes.every((n) => n.accepting)).toBe(true);
    expect(report.nodes.filter((n) => n.restored)).toHaveLength(1);

    // Fixed: resume drains the node again (it accepted clients meanwhile) and goes on.
    for (const n of [n1!, n2!]) expect((await setReserve(n, 0)).status).toBe(200);
    const drainedAgain: string[] = [];
    const resumed = await runUpgrade(['resume', '--inventory', inventory], (l) => {
      if (/draining again before going on/.test(l)) drainedAgain.push(l);
    }).done;
    expect(resumed.code, resumed.out).toBe(0);
    expect(drainedAgain).toHaveLength(1);
    for (const t of [p!, n1!, n2!])
      await until(
        async () =>
          (await t.proc.client().call<{ productVersion: string }>('GET', '/health')).body
            .productVersion === NEXT_VERSION,
        30_000,
        `${t.proc.host} on ${NEXT_VERSION}`,
      );
    const after = JSON.parse(
      readFileSync(path.join(dir, 'gatehouse-upgrade', 'report.json'), 'utf8'),
    ) as { outcome: string; nodes?: unknown };
    expect(after.outcome).toBe('finished');
    expect(after.nodes).toBeUndefined();
  }, 400_000);
});
