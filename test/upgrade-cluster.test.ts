import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import { freePort } from '../src/lab/processes.js';
import { LOGIN_PASSWORD, tempDir, until, type TestAppliance } from './support/appliance.js';
import {
  startNamedAppliance,
  NEXT_VERSION,
  writeInventory,
  runUpgrade,
  callExpecting,
  healthOf,
} from './support/deployment.js';
import { startTargets } from './support/targets.js';
import { buildTestPackage, makeReleaseKey } from './support/updates.js';
import { enrolmentToken } from './support/jump-clients.js';

const KEY = 'upgrade-cluster-key-0123456789abcdefghijk';

const upgrade = (args: string[]) => runUpgrade(args).done;

describe('gatehouse upgrade: a cluster with a backup primary node (S17, S22–S29)', () => {
  it('waits for draining with a deadline, stops when a node never drains, resumes with --on-drain-timeout proceed (the held session is cut, its record kept) and upgrades everything with nothing lost', async () => {
    const dir = tempDir('gh-upcluster-');
    const release = makeReleaseKey(dir);
    const packages = path.join(dir, 'packages');
    mkdirSync(packages);
    const port = await freePort('127.0.0.121');
    const start = (name: string, host: string, p?: number) =>
      startNamedAppliance({
        name,
        host,
        port: p,
        interApplianceKey: KEY,
        releasePub: release.pubFile,
      });
    const [a, b, n1, n2, n3, n4, targets] = await Promise.all([
      start('uc-a', '127.0.0.121', port),
      start('uc-b', '127.0.0.122', port),
      start('uc-node-1', '127.0.0.123'),
      start('uc-node-2', '127.0.0.124'),
      start('uc-node-3', '127.0.0.125'),
      start('uc-node-4', '127.0.0.126'),
      startTargets(),
      buildTestPackage({
        kind: 'product',
        version: NEXT_VERSION,
        keyFile: release.keyFile,
        out: path.join(packages, `product-${NEXT_VERSION}.ghpkg`),
      }),
    ]);
    const nodes = [n1, n2, n3, n4] as TestAppliance[];
    await callExpecting(
      a!,
      'POST',
      '/api/appliance/network/addresses',
      { address: '127.0.0.120', kind: 'shared', enabled: true },
      201,
    );
    await callExpecting(
      b!,
      'POST',
      '/api/appliance/network/addresses',
      { address: '127.0.0.120', kind: 'shared', enabled: false },
      201,
    );
    for (const [i, n] of nodes.entries())
      await callExpecting(
        a!,
        'POST',
        '/api/login/cluster/nodes',
        { host: n.proc.host, port: n.proc.port, region: i < 2 ? 'east' : 'west', key: KEY },
        201,
      );
    await callExpecting(
      a!,
      'POST',
      '/api/login/failover/establish',
      {
        backupHost: '127.0.0.122',
        backupPort: port,
        reverseHost: '127.0.0.121',
        reversePort: port,
        firstSyncAfterSeconds: 1,
      },
      201,
    );
    await callExpecting(a!, 'POST', '/api/login/failover/sync', undefined, 200);
    const inventory = await writeInventory(
      dir,
      [a!, b!, ...nodes],
      `127.0.0.120:${port}`,
      'shared-ip',
    );

    // A session that does not end holds uc-node-1 (the first east node to go offline).
    const token = await enrolmentToken(a!.api);
    await until(
      async () =>
        (
          await a!.api.call<{ nodes: { eligible: boolean }[] }>('GET', '/api/login/cluster')
        ).body.nodes.filter((n) => n.eligible).length === 4,
      10_000,
      'nodes eligible',
    );
    let holder: JumpClient | undefined;
    for (let i = 0; i < 4 && holder?.connectedTo !== 'uc-node-1'; i++) {
      await holder?.stop();
      holder = new JumpClient({
        site: { host: '127.0.0.121', port, fingerprint: a!.proc.fingerprint },
        name: `holder-${i}`,
        group: 'g',
        token,
        allow: [targets.echo],
        region: 'east',
      });
      holder.start();
      await until(() => holder!.state === 'connected', 10_000, 'the holder Jump Client');
    }
    expect(holder!.connectedTo).toBe('uc-node-1');
    const rep = await RepresentativeConsole.signIn(
      { host: '127.0.0.121', port, fingerprint: a!.proc.fingerprint },
      'admin',
      LOGIN_PASSWORD,
    );
    const jumpName = (holder as unknown as { opts: { name: string } }).opts.name;
    await until(
      async () => (await rep.jumpClients()).some((j) => j.name === jumpName),
      10_000,
      'the primary to list the holder',
    );
    // A console of the previous release (no resumable legs): its session stays on the node.
    rep.offerResume = false;
    const held = await rep.openSession(jumpName, targets.echo);

    const args = [
      '--inventory',
      inventory,
      '--strategy',
      'cluster',
      '--packages',
      packages,
      '--drain-timeout',
      '10',
    ];
    const plan = await upgrade(['plan', ...args]);
    expect(plan.code, plan.out).toBe(0);
    expect(plan.out).toMatch(/Distribute to Cluster from uc-a \[S22, S30\]/);
    expect(plan.out).toMatch(/Stop uc-node-1, uc-node-3 accepting new client connections/);
    expect(plan.out).toMatch(/uc-a: Become Backup even if the peer cannot be contacted \[S25\]/);

    const first = await upgrade(['run', ...args, '--json']);
    expect(first.code, first.out).toBe(1);
    const events = first.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            status?: string;
            line?: string;
            error?: { code: string; message: string };
          },
      );
    // While it waits, it says who holds the node, and for how long.
    expect(events.filter((e) => e.type === 'progress').map((e) => e.line)).toContainEqual(
      expect.stringMatching(
        /^uc-node-1 still has \d+ connected clients: .*jump-client holder-\d \((?:connected \d+ s|moved away), 1 session\(s\): admin → .* for \d+ s\)/,
      ),
    );
    const failed = events.find((e) => e.status === 'failed');
    expect(failed?.error?.code).toBe('UPGRADE_DRAIN_TIMEOUT');
    expect(failed?.error?.message).toMatch(/uc-node-1 still has \d+ connected clients/);
    expect((await healthOf(n1!)).productVersion).not.toBe(NEXT_VERSION);

    expect(failed?.error?.message).toContain('resume --on-drain-timeout proceed');

    // The documented choice: resume, installing anyway; the held session is cut, not lost.
    const cut = new Promise<void>((resolve) => held.socket.once('close', () => resolve()));
    const resumed = await upgrade([
      'resume',
      '--inventory',
      inventory,
      '--on-drain-timeout',
      'proceed',
    ]);
    expect(resumed.code, resumed.out).toBe(0);
    // It proceeds at once (no second wait), its line says so, and its ✓ says what it did.
    expect(resumed.out).toMatch(
      /▶ Wait until uc-node-1, uc-node-3 have no connected clients \(at most 10 s, then install anyway, cutting their sessions\)/,
    );
    const waited =
      /✓ Wait until uc-node-1, uc-node-3 [^\n]* — ([\d.]+) s: cut 1 session\(s\) on uc-node-1 /.exec(
        resumed.out,
      );
    expect(waited, resumed.out).not.toBeNull();
    expect(Number(waited![1])).toBeLessThan(10);
    await cut;
    await holder!.stop();
    await rep.close();
    for (const t of [a!, b!, ...nodes])
      expect((await healthOf(t)).productVersion, t.proc.host).toBe(NEXT_VERSION);
    expect((await healthOf(b!)).role).toBe('primary');
    expect((await healthOf(a!)).role).toBe('backup');
    const report = JSON.parse(
      readFileSync(path.join(dir, 'gatehouse-upgrade', 'report.json'), 'utf8'),
    );
    expect(report.outcome).toBe('finished');
    // The live load's long sessions (resumable legs) followed the drains and installs: none
    // dropped (the held session above is a previous-release console's, not the load's).
    expect(report.sessions.longOpened).toBeGreaterThan(0);
    expect(report.sessions.dropped, JSON.stringify(report.sessions.failures)).toBe(0);
    // `upgrade resume` printed the report: the long sessions' pause, the longest and in total.
    const paused = /long sessions \(longest pause (\d+) ms, in total (\d+) ms\)/.exec(resumed.out);
    expect(paused, resumed.out).not.toBeNull();
    expect(Number(paused![2])).toBe(report.sessions.totalPauseMs);
    console.log(
      `cluster runbook: the long sessions paused ${paused![2]} ms in total, ${paused![1]} ms at the longest`,
    );
    expect(report.cutSessions).toEqual({ sessions: 1, nodes: ['uc-node-1'] });
    expect(report.integrity).toMatchObject({
      primary: 'uc-b',
      lost: [],
      mismatched: [],
      removed: [],
      notCompared: [],
    });
    // The session cut on the node that did not drain left its record, which reached the primary.
    await until(
      async () =>
        (
          await b!.api.call<{ sessions: { id: string }[] }>('GET', '/api/login/sessions')
        ).body.sessions.some((s) => s.id === held.session),
      20_000,
      "the cut session's record on uc-b",
    );
    const cluster = await b!.api.call<{ nodes: { accepting: boolean; eligible: boolean }[] }>(
      'GET',
      '/api/login/cluster',
    );
    expect(cluster.body.nodes.every((n) => n.accepting)).toBe(true);
    await targets.close();
  }, 400_000);
});
