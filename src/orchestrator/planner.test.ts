import { describe, expect, it } from 'vitest';
import type { ApplianceState } from './deployment.js';
import { planUpgrade } from './planner.js';

const nodes = Array.from({ length: 8 }, (_, i) => ({
  name: `node-${i + 1}`,
  region: i % 2 ? 'west' : 'east',
}));

const appliance = (name: string, extra: Partial<ApplianceState>): ApplianceState => ({
  name,
  host: '127.0.0.1',
  port: 443,
  fingerprint: name,
  reachable: true,
  role: 'standalone',
  productVersion: '1.0.0',
  baseVersion: '1.0.0',
  keyFingerprint: 'k',
  freeBytes: 2 ** 40,
  ...extra,
});

const clusterPlan = (tweak: (a: ApplianceState) => ApplianceState = (a) => a) =>
  planUpgrade({
    strategy: 'cluster',
    inventory: 'inventory.yaml',
    trafficSwitch: 'shared-ip',
    drainTimeoutMs: 60_000,
    onDrainTimeout: 'abort',
    packages: [{ id: 'p', kind: 'product', version: '1.0.1', size: 1 }],
    appliances: [
      appliance('primary', {
        role: 'primary',
        failover: {
          peer: 'backup',
          peerAddress: { host: '127.0.0.2', port: 443 },
          backupOperationsEnabled: true,
          lastSync: '2026-12-02T00:00:00Z',
          peerReachable: true,
        },
        cluster: {
          role: 'primary-node',
          membership: null,
          nodes: nodes.map((n) => ({
            ...n,
            accepting: true,
            eligible: true,
            host: '127.0.0.3',
            port: 443,
          })),
        },
      }),
      appliance('backup', { role: 'backup' }),
      ...nodes.map((n) =>
        appliance(n.name, {
          cluster: {
            role: 'traffic-node',
            membership: { primary: 'primary', region: n.region, accepting: true },
            nodes: [],
          },
        }),
      ),
    ].map(tweak),
  });

describe('cluster runbook', () => {
  it('installs each half of the traffic nodes in one parallel step, half of every region first', () => {
    const plan = clusterPlan();
    expect(plan.checks.filter((c) => !c.ok)).toEqual([]);
    const many = plan.steps.filter((s) => s.action.type === 'install-many');
    expect(many.map((s) => s.action)).toEqual([
      { type: 'install-many', appliances: ['node-1', 'node-3', 'node-2', 'node-4'] },
      { type: 'install-many', appliances: ['node-5', 'node-6', 'node-7', 'node-8'] },
    ]);
    // One install per primary node besides them: the cluster's time does not grow per node.
    const single = plan.steps.filter((s) => s.action.type === 'install');
    expect(single.map((s) => s.action)).toEqual([
      { type: 'install', appliance: 'backup' },
      { type: 'install', appliance: 'primary' },
    ]);
    expect(many.every((s) => s.predictedMs === single[0]!.predictedMs)).toBe(true);
  });

  it('drains the offline half before its install and the rest before theirs', () => {
    const types = clusterPlan().steps.map((s) => s.action.type);
    const firstInstall = types.indexOf('install-many');
    expect(types.indexOf('wait-drained')).toBeLessThan(firstInstall);
    expect(types.lastIndexOf('wait-drained')).toBeLessThan(types.lastIndexOf('install-many'));
    expect(types.lastIndexOf('wait-drained')).toBeGreaterThan(firstInstall);
  });
});

const pairPlan = (
  strategy: 'synchronous' | 'asynchronous',
  trafficSwitch: string,
  shared: boolean,
) =>
  planUpgrade({
    strategy,
    inventory: 'inventory.yaml',
    trafficSwitch,
    drainTimeoutMs: 60_000,
    onDrainTimeout: 'abort',
    packages: [{ id: 'p', kind: 'product', version: '1.0.1', size: 1 }],
    appliances: [
      appliance('a', {
        role: 'primary',
        failover: {
          peer: 'b',
          peerAddress: { host: '127.0.0.2', port: 443 },
          backupOperationsEnabled: true,
          lastSync: '2026-12-02T00:00:00Z',
          peerReachable: true,
        },
        sharedAddresses: [{ address: '127.0.0.50', enabled: shared }],
      }),
      appliance('b', { role: 'backup' }),
    ],
  });

const failed = (plan: ReturnType<typeof planUpgrade>) =>
  plan.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);

describe('preconditions', () => {
  it('an asynchronous upgrade needs a traffic switch that can move the site', () => {
    expect(failed(pairPlan('asynchronous', 'shared-ip', true))).toEqual([]);
    expect(failed(pairPlan('asynchronous', 'hosts-file', false))).toEqual([]);
    // A load balancer follows /health/primary: the switch step moves its share, no address.
    expect(failed(pairPlan('asynchronous', 'load-balancer', false))).toEqual([]);
    expect(failed(pairPlan('asynchronous', 'none', false))).toEqual([
      expect.stringMatching(/^traffic switch: .*set trafficSwitch.method/),
    ]);
    expect(failed(pairPlan('asynchronous', 'shared-ip', false))).toEqual([
      expect.stringMatching(/^traffic switch: a has no shared address enabled/),
    ]);
    // The synchronous strategy never moves the site.
    expect(failed(pairPlan('synchronous', 'none', false))).toEqual([]);
  });

  it('a cluster needs every node on its primary version and a healthy sync to its backup', () => {
    expect(failed(clusterPlan())).toEqual([]);
    const halfDone = clusterPlan((a) =>
      a.name === 'node-3' ? { ...a, productVersion: '1.0.1' } : a,
    );
    expect(failed(halfDone)).toEqual([
      expect.stringMatching(
        /^traffic nodes on the primary node's version: node-3 runs 1\.0\.1, the primary node 1\.0\.0: finish the previous upgrade first/,
      ),
      expect.stringMatching(/^node-3 can take the packages: already runs product 1\.0\.1/),
    ]);
    const neverSynced = clusterPlan((a) =>
      a.name === 'primary' ? { ...a, failover: { ...a.failover!, lastSync: null } } : a,
    );
    expect(failed(neverSynced)).toEqual([
      'failover sync healthy: no sync has completed yet: run Sync Now on primary first',
    ]);
  });
});
