import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './support/appliance.js';
import {
  NEXT_VERSION,
  runUpgrade,
  startNamedAppliance,
  writeInventory,
  healthOf,
} from './support/deployment.js';
import { buildTestPackage, makeReleaseKey } from './support/updates.js';

const KEY = 'cluster-no-failover-key-0123456789abcdefg';

describe('gatehouse upgrade: a cluster without failover (S30)', () => {
  it('runs the cluster runbook with the single primary node end to end: half the nodes, the primary node (the site goes down), the rest; the report says so, with nothing lost', async () => {
    const dir = tempDir('gh-upcluster-nf-');
    const release = makeReleaseKey(dir);
    const packages = path.join(dir, 'packages');
    mkdirSync(packages);
    const start = (name: string, host: string) =>
      startNamedAppliance({ name, host, interApplianceKey: KEY, releasePub: release.pubFile });
    const [a, n1, n2] = await Promise.all([
      start('nf-a', '127.0.0.181'),
      start('nf-node-1', '127.0.0.182'),
      start('nf-node-2', '127.0.0.183'),
      buildTestPackage({
        kind: 'product',
        version: NEXT_VERSION,
        keyFile: release.keyFile,
        out: path.join(packages, `product-${NEXT_VERSION}.ghpkg`),
      }),
    ]);
    for (const n of [n1!, n2!]) {
      const res = await a!.api.call('POST', '/api/login/cluster/nodes', {
        json: { host: n.proc.host, port: n.proc.port, region: 'east', key: KEY },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    // No failover pair: clients reach the primary node by its own address.
    const inventory = await writeInventory(
      dir,
      [a!, n1!, n2!],
      `${a!.proc.host}:${a!.proc.port}`,
      'none',
    );
    const args = ['--inventory', inventory, '--strategy', 'cluster', '--packages', packages];

    const plan = await runUpgrade(['plan', ...args]).done;
    expect(plan.code, plan.out).toBe(0);
    expect(plan.out).toMatch(/Distribute to Cluster from nf-a \[S22, S30\]/);
    expect(plan.out).toMatch(/Install product \S+ on nf-a \[S23, S30, S9\]/);
    expect(plan.out).not.toMatch(/Become Backup|Sync Now on/);

    const run = await runUpgrade(['run', ...args]).done;
    expect(run.code, run.out).toBe(0);
    for (const t of [a!, n1!, n2!])
      expect((await healthOf(t)).productVersion, t.proc.host).toBe(NEXT_VERSION);
    const report = JSON.parse(
      readFileSync(path.join(dir, 'gatehouse-upgrade', 'report.json'), 'utf8'),
    ) as {
      strategy: string;
      outcome: string;
      withoutFailoverMs: number;
      predicted: { siteDowntimeMs: number };
      downtime: { probes: number; outages: unknown[] };
      steps: { title: string; s: string[]; status: string }[];
      sessions: { longOpened: number; dropped: number; failures: unknown[] };
      integrity: Record<string, unknown>;
    };
    expect(report).toMatchObject({
      strategy: 'cluster',
      outcome: 'finished',
      withoutFailoverMs: 0,
    });
    expect(report.steps.every((s) => s.status === 'done')).toBe(true);
    // The primary node is alone: its install takes the site down, as the plan predicted.
    expect(report.predicted.siteDowntimeMs).toBeGreaterThan(0);
    expect(report.downtime.probes).toBeGreaterThan(0);
    const installs = report.steps.filter((s) => s.title.startsWith('Install'));
    expect(installs.map((s) => s.title)).toEqual([
      expect.stringMatching(/ on nf-node-1 \(in parallel\)$/),
      expect.stringMatching(/ on nf-a$/),
      expect.stringMatching(/ on nf-node-2 \(in parallel\)$/),
    ]);
    expect(installs[1]!.s).toContain('S30');
    expect(report.sessions.dropped, JSON.stringify(report.sessions.failures)).toBe(0);
    expect(report.integrity).toMatchObject({
      primary: 'nf-a',
      lost: [],
      mismatched: [],
      removed: [],
    });
    const cluster = await a!.api.call<{ nodes: { accepting: boolean }[] }>(
      'GET',
      '/api/login/cluster',
    );
    expect(cluster.body.nodes.every((n) => n.accepting)).toBe(true);
  }, 400_000);
});
