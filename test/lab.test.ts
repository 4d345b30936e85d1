import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { adminClient } from '../src/lab/configure.js';
import type { LabStatus } from '../src/lab/lifecycle.js';
import type { AgentStats } from '../src/lab/agent.js';
import { GATEHOUSE_BIN } from '../src/lab/processes.js';
import { groupAlive, readState, type LabState } from '../src/lab/state.js';
import { loadInventory } from '../src/orchestrator/inventory.js';
import type { UpgradeReport } from '../src/orchestrator/report.js';
import { tempDir, until } from './support/appliance.js';

const exec = promisify(execFile);

async function gatehouse(args: string[]) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [GATEHOUSE_BIN, ...args], {
      // An upgrade run takes minutes on a loaded machine (2 CPUs shared by the suite).
      timeout: 240_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const stats = (dir: string) =>
  JSON.parse(readFileSync(path.join(dir, 'agent-stats.json'), 'utf8')) as AgentStats;

/** Sessions keep completing, none fails. */
async function expectSessionsFlowing(dir: string) {
  const before = stats(dir).sessions.completed;
  await until(
    () => stats(dir).sessions.completed >= before + 3,
    20_000,
    'synthetic sessions to complete',
  );
  const s = stats(dir).sessions;
  expect(s.failed, JSON.stringify(s.recentErrors)).toBe(0);
  expect(s.long.active).toBe(2);
}

async function expectStatusAlive(dir: string, state: LabState) {
  const status = await gatehouse(['lab', 'status', '--dir', dir, '--json']);
  expect(status.code).toBe(0);
  const s = JSON.parse(status.stdout) as LabStatus;
  expect(s.allAlive).toBe(true);
  expect(s.processes.map((p) => p.kind).sort()).toEqual(
    [...state.processes.map((p) => p.kind)].sort(),
  );
  for (const a of s.appliances) expect(a.health?.ready).toBe(true);
}

async function expectDownStopsAll(dir: string, state: LabState) {
  const down = await gatehouse(['lab', 'down', '--dir', dir]);
  expect(down.code).toBe(0);
  for (const p of state.processes) expect(groupAlive(p.pgid), p.name).toBe(false);
  expect(readState(dir)?.state).toBe('stopped');
}

let running: string | undefined;
afterEach(async () => {
  if (running) await gatehouse(['lab', 'down', '--dir', running]);
  running = undefined;
});

/** `lab up` with these flags in a fresh directory; stopped after the test whatever happens. */
async function startLab(prefix: string, flags: string[]) {
  const dir = path.join(tempDir(prefix), 'lab');
  const up = await gatehouse(['lab', 'up', ...flags, '--dir', dir]);
  running = dir;
  expect(up.code, up.stderr).toBe(0);
  return { dir, up, state: readState(dir)! };
}

describe('gatehouse lab', () => {
  it('refuses an unknown topology and a cluster without traffic nodes, naming the flag and starting nothing', async () => {
    const dir = path.join(tempDir('gh-lab-bad-'), 'lab');
    const unknown = await gatehouse(['lab', 'up', '--topology', 'mesh', '--dir', dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--topology: "mesh" is not a topology; use standalone, pair/);
    const noNodes = await gatehouse([
      'lab',
      'up',
      '--topology',
      'cluster',
      '--traffic-nodes',
      '0',
      '--dir',
      dir,
    ]);
    expect(noNodes.code).toBe(2);
    expect(noNodes.stderr).toContain('--traffic-nodes');
    expect(existsSync(dir)).toBe(false);
  });

  it('starts a failover pair behind a shared IP with sessions flowing, then stops every process', async () => {
    const { dir, up, state } = await startLab('gh-lab-pair-', ['--topology', 'pair']);
    expect(up.stdout).toContain('/login');
    expect(up.stdout).toContain(path.join(dir, 'secrets', 'login-admin.password'));
    const password = readFileSync(path.join(dir, 'secrets', 'login-admin.password'), 'utf8');
    expect(up.stdout).not.toContain(password.trim());

    const inv = loadInventory(path.join(dir, 'inventory.yaml'));
    expect(inv.trafficSwitch.method).toBe('shared-ip');
    expect(inv.site.address).toBe(`127.0.1.10:${state.appliances[0]!.port}`);
    expect(inv.appliances.map((a) => [a.name, a.role])).toEqual([
      ['appliance-a', 'primary'],
      ['appliance-b', 'backup'],
    ]);
    for (const a of state.appliances) {
      const api = await adminClient(state, a);
      const health = await api.call<{ role: string }>('GET', '/health');
      expect(health.body.role).toBe(a.role);
      await api.close();
    }
    await expectSessionsFlowing(dir);
    await expectStatusAlive(dir, state);

    // upgrade plan --to: the version must be one the primary's update server offers.
    const inventory = path.join(dir, 'inventory.yaml');
    const plan = (to: string) =>
      gatehouse([
        'upgrade',
        'plan',
        '--inventory',
        inventory,
        '--strategy',
        'synchronous',
        '--to',
        to,
      ]);
    const notOffered = await plan('9.9.9');
    expect(notOffered.code).toBe(2);
    expect(notOffered.stderr).toContain(
      '--to 9.9.9: the update server of appliance-a offers no product 9.9.9',
    );
    const published = await gatehouse(['lab', 'publish-next', '--dir', dir]);
    expect(published.code, published.stderr).toBe(0);
    const next = /product (\d+\.\d+\.\d+)/.exec(published.stdout)?.[1];
    expect(next, published.stdout).toBeDefined();
    const planned = await plan(next!);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`product ${next}`);
    expect(planned.stdout).toMatch(/\[S\d+(, S\d+)*\]/);

    const again = await gatehouse(['lab', 'up', '--topology', 'pair', '--dir', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('lab down');

    await expectDownStopsAll(dir, state);
    running = undefined;
  }, 180_000);

  it.each(['hosts-file', 'nat-forwarder'] as const)(
    'upgrades a pair behind a %s switch asynchronously with --to; the orchestrator follows the switch',
    async (method) => {
      const { dir, state } = await startLab(`gh-lab-${method}-`, [
        '--topology',
        'pair',
        '--switch',
        method,
      ]);
      const inv = loadInventory(path.join(dir, 'inventory.yaml'));
      expect(inv.trafficSwitch.method).toBe(method);
      const hostsLine = () =>
        readFileSync(path.join(dir, 'hosts'), 'utf8')
          .split('\n')
          .find((l) => l.includes(inv.site.hostname!));
      const [a, b] = state.appliances;
      if (method === 'hosts-file') {
        expect(inv.site.hostsFile).toBe('hosts');
        expect(hostsLine()).toContain(a!.host);
      }

      const published = await gatehouse(['lab', 'publish-next', '--dir', dir]);
      expect(published.code, published.stderr).toBe(0);
      const next = /product (\d+\.\d+\.\d+)/.exec(published.stdout)![1]!;
      const inventory = path.join(dir, 'inventory.yaml');
      const run = await gatehouse([
        'upgrade',
        'run',
        '--inventory',
        inventory,
        '--strategy',
        'asynchronous',
        '--to',
        next,
      ]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toContain('upgrade continue');
      const cont = await gatehouse(['upgrade', 'continue', '--inventory', inventory]);
      expect(cont.code, cont.stdout + cont.stderr).toBe(0);

      // Point Here on B rewrote the hosts file (or the forwarder's target): probes followed it.
      if (method === 'hosts-file') expect(hostsLine()).toContain(b!.host);
      const report = JSON.parse(
        readFileSync(path.join(dir, 'gatehouse-upgrade', 'report.json'), 'utf8'),
      ) as UpgradeReport;
      expect(report.outcome).toBe('finished');
      expect(report.integrity?.lost).toEqual([]);
      const probes = readFileSync(path.join(dir, 'gatehouse-upgrade', 'probe.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { t: number; ok: boolean; who?: string });
      const answered = probes.filter((p) => p.ok).map((p) => p.who);
      expect(answered[0]).toBe(a!.name);
      expect(answered.at(-1)).toBe(b!.name);
      expect(report.downtime.totalMs).toBeLessThan(3_000);
      expect(report.sessions?.newFailed, JSON.stringify(report.sessions?.failures)).toBe(0);
      // After Point Here on B, A's clients were sent to the site (the name now leads to B).
      const switched = readFileSync(path.join(dir, 'gatehouse-upgrade', 'journal.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id?: string; status?: string; detail?: unknown })
        .find((e) => e.id?.startsWith('switch-') && e.status === 'done')?.detail as {
        clientsSentFrom: Record<string, { asked: number }>;
      };
      expect(switched.clientsSentFrom[a!.name]!.asked).toBeGreaterThan(0);
      for (const x of state.appliances) {
        const api = await adminClient(state, x);
        const health = await api.call<{ productVersion: string }>('GET', '/health');
        expect(health.body.productVersion, x.name).toBe(next);
        await api.close();
      }
    },
    480_000,
  );

  it('starts a cluster of two traffic nodes in two regions; Jump Clients connect through the nodes', async () => {
    const { dir, state } = await startLab('gh-lab-cluster-', [
      '--topology',
      'cluster',
      '--traffic-nodes',
      '2',
      '--regions',
      '2',
    ]);
    const inv = loadInventory(path.join(dir, 'inventory.yaml'));
    expect(inv.appliances.map((a) => [a.name, a.role, a.region])).toEqual([
      ['primary-node', 'standalone', undefined],
      ['traffic-node-1', 'traffic-node', 'region-1'],
      ['traffic-node-2', 'traffic-node', 'region-2'],
    ]);
    for (const a of state.appliances) {
      const api = await adminClient(state, a);
      const cluster = await api.call<{ role: string }>('GET', '/api/login/cluster');
      expect(cluster.body.role).toBe(a.role === 'traffic-node' ? 'traffic-node' : 'primary-node');
      await api.close();
    }
    const clients = stats(dir).jumpClients.clients;
    expect(clients.map((c) => [c.region, c.connectedTo])).toEqual([
      ['region-1', 'traffic-node-1'],
      ['region-2', 'traffic-node-2'],
    ]);
    await expectSessionsFlowing(dir);
    await expectStatusAlive(dir, state);

    // lab status: each traffic node accepting or draining, and its connected clients.
    const nodeStatus = async () => {
      const r = await gatehouse(['lab', 'status', '--dir', dir, '--json']);
      const text = await gatehouse(['lab', 'status', '--dir', dir]);
      const s = JSON.parse(r.stdout) as LabStatus;
      return { text: text.stdout, node: (n: string) => s.appliances.find((a) => a.name === n) };
    };
    const before = await nodeStatus();
    for (const c of clients) {
      const t = before.node(c.connectedTo!)?.traffic;
      expect(t?.accepting).toBe(true);
      expect(t?.clients.map((x) => x.name)).toContain(c.name);
    }
    expect(before.text).toMatch(
      new RegExp(
        `traffic-node-1 at .*\\(traffic node; accepting, \\d+ connected client\\(s\\): .*jump-client ${clients[0]!.name}`,
      ),
    );
    const primary = await adminClient(state, state.appliances[0]!);
    const stop = await primary.call('PATCH', '/api/login/cluster/nodes/traffic-node-1', {
      json: { accepting: false },
    });
    expect(stop.status).toBe(200);
    await until(
      async () => (await nodeStatus()).node('traffic-node-1')?.traffic?.accepting === false,
      20_000,
      'lab status to show traffic-node-1 draining',
    );
    expect((await nodeStatus()).text).toMatch(
      /traffic-node-1 at .*\(traffic node; draining \(accepts no new clients\), \d+ connected client/,
    );
    expect((await nodeStatus()).node('traffic-node-2')?.traffic?.accepting).toBe(true);
    await primary.close();
    await expectDownStopsAll(dir, state);
    running = undefined;
  }, 150_000);
});
