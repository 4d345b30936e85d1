import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabStatus } from '../src/lab/lifecycle.js';
import { LAB_REGISTRY, OWNER_ENV, sweepOrphanLabs } from '../src/lab/registry.js';
import { groupAlive, readState } from '../src/lab/state.js';
import { tempDir, until } from './support/appliance.js';
import {
  downNetnsLab,
  expectHostAsBefore,
  gatehouse,
  hostNetwork,
  spawnLabUp,
  upNetnsLab,
  type NetnsLab,
} from './support/netns-lab.js';

/** A TLS handshake and /health through the site, from a client's namespace. */
const HEALTH = `
const s = require('node:tls').connect({ host: process.argv[1], port: 443, rejectUnauthorized: false }, () => {
  s.end('GET /health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n');
});
let out = ''; s.on('data', (d) => (out += d)); s.on('end', () => console.log(out.split('\\r\\n\\r\\n')[1]));
s.on('error', (e) => { console.error(e.message); process.exit(1); });`;

/** TCP connect times (ms) to host:443, one after the other; "fail" for a connection refused or timed out. */
const CONNECT = `
const net = require('node:net');
(async () => {
  const out = [];
  for (let i = 0; i < Number(process.argv[2]); i++) {
    const t = process.hrtime.bigint();
    out.push(await new Promise((res) => {
      const s = net.connect({ host: process.argv[1], port: 443, timeout: 1500 }, () => {
        s.destroy();
        res(Number(process.hrtime.bigint() - t) / 1e6);
      });
      s.on('timeout', () => { s.destroy(); res('fail'); });
      s.on('error', () => res('fail'));
    }));
  }
  console.log(JSON.stringify(out));
})();`;

const connectTimes = async (lab: NetnsLab, from: string, to: string, n: number) =>
  JSON.parse((await lab.exec(from, [process.execPath, '-e', CONNECT, to, String(n)])).stdout) as (
    number | 'fail'
  )[];

describe('netns lab: a namespace per host, nothing left on the host', () => {
  let before: Awaited<ReturnType<typeof hostNetwork>>;
  const dirs: string[] = [];
  beforeAll(async () => {
    before = await hostNetwork();
  });
  afterAll(async () => {
    for (const d of dirs) await downNetnsLab(d);
  }, 120_000);

  it('refuses the real-network switches on loopback, naming the flag, and creates nothing', async () => {
    const dir = path.join(tempDir('gh-netns-bad-'), 'lab');
    const r = await gatehouse(['lab', 'up', '--switch', 'nat', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--switch: nat needs the real network: add --network netns/);
    expect(existsSync(dir)).toBe(false);
    await expectHostAsBefore(before, 'gh-none-');
  });

  it('runs a pair on its own addresses behind a real VIP, reachable from a client namespace, takes faults and heals; lab down leaves the host as before', async () => {
    let lab: NetnsLab | undefined;
    try {
      lab = await upNetnsLab(['--topology', 'pair', '--long-sessions', '1']);
      dirs.push(lab.dir);
      const state = lab.state();
      const net = state.network!;
      expect(state.appliances.map((a) => `${a.name} ${a.host}:${a.port}`)).toEqual([
        'appliance-a 198.18.1.11:443',
        'appliance-b 198.18.1.12:443',
      ]);
      expect(net.namespaces.every((n) => n.startsWith(net.prefix))).toBe(true);
      const status = await gatehouse(['lab', 'status', '--dir', lab.dir, '--json']);
      const s = JSON.parse(status.stdout) as LabStatus;
      expect(s.hosts?.find((h) => h.name === 'client')?.address).toBe('198.18.0.6');
      expect(s.appliances.map((a) => a.health?.role)).toEqual(['primary', 'backup']);
      // The VIP is a real address on the primary's eth0 only, and answers from outside.
      const a = await lab.exec('appliance-a', ['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
      const b = await lab.exec('appliance-b', ['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
      expect(a.stdout).toContain('198.18.1.10/32');
      expect(b.stdout).not.toContain('198.18.1.10');
      const health = await lab.exec('client', [process.execPath, '-e', HEALTH, net.vip]);
      expect(health.code, health.stderr).toBe(0);
      expect(JSON.parse(health.stdout)).toMatchObject({ name: 'appliance-a', role: 'primary' });
      // The host has no route to the lab: its addresses are only inside the lab's namespaces.
      expect((await hostNetwork()).links).toEqual(before.links);
      // A lab whose owner (this test) lives is nobody's orphan.
      expect((await sweepOrphanLabs()).map((r) => r.prefix)).not.toContain(net.prefix);

      // Faults: a partition cuts one pair of hosts only; latency holds every packet that
      // crosses the region's leg of the router (both ways: +2 × 80 ms on a connect); heal
      // removes them all; each is in lab.json with its time.
      const fault = async (...words: string[]) => {
        const r = await gatehouse(['lab', 'fault', ...words, '--dir', lab!.dir]);
        expect(r.code, r.stderr).toBe(0);
      };
      await fault('partition', 'client', 'appliance-a');
      expect(await connectTimes(lab, 'client', '198.18.1.11', 1)).toEqual(['fail']);
      expect((await connectTimes(lab, 'client', '198.18.1.12', 1))[0]).not.toBe('fail');
      await fault('heal');
      await fault('latency', 'region-1', '80ms');
      const slow = (await connectTimes(lab, 'client', '198.18.1.11', 5)) as number[];
      expect(Math.min(...slow)).toBeGreaterThanOrEqual(160);
      await fault('loss', 'region-1', '100%');
      expect(await connectTimes(lab, 'client', '198.18.1.12', 1)).toEqual(['fail']);
      await fault('heal');
      const fast = (await connectTimes(lab, 'client', '198.18.1.11', 5)) as number[];
      expect(Math.min(...fast)).toBeLessThan(80);
      await fault('freeze', 'appliance-b');
      expect(await connectTimes(lab, 'client', '198.18.1.12', 1)).not.toEqual(['fail']);
      await fault('thaw', 'appliance-b');
      expect(lab.state().network!.faults.map((f) => [f.fault, ...f.args].join(' '))).toEqual([
        'partition client appliance-a',
        'heal',
        'latency region-1 80ms',
        'loss region-1 100%',
        'heal',
        'freeze appliance-b',
        'thaw appliance-b',
      ]);
    } finally {
      if (lab) {
        const down = await gatehouse(['lab', 'down', '--dir', lab.dir]);
        expect(down.code, down.stderr).toBe(0);
        for (const p of lab.state().processes) expect(groupAlive(p.pgid), p.name).toBe(false);
        await expectHostAsBefore(before, lab.state().network!.prefix);
      }
    }
  }, 240_000);

  it('cleans up after a lab up killed half-way, from what lab.json recorded', async () => {
    const dir = path.join(tempDir('gh-netns-kill-'), 'lab');
    dirs.push(dir);
    const up = spawnLabUp(dir, ['--topology', 'pair']);
    // Killed once it has namespaces and a first process: the crash leaves both behind.
    await until(() => (readState(dir)?.processes.length ?? 0) > 0, 120_000, 'a first process');
    process.kill(-up.pid!, 'SIGKILL');
    const state = readState(dir)!;
    expect(state.network!.namespaces.length).toBeGreaterThan(5);
    expect((await hostNetwork()).netns.length).toBeGreaterThan(before.netns.length);
    const down = await gatehouse(['lab', 'down', '--dir', dir]);
    expect(down.code, down.stderr).toBe(0);
    for (const p of readState(dir)!.processes) expect(groupAlive(p.pgid), p.name).toBe(false);
    await expectHostAsBefore(before, state.network!.prefix);
  }, 180_000);

  it('sweeps the lab of a killed owner before the next lab starts: processes, namespaces, /etc/netns', async () => {
    const dir = path.join(tempDir('gh-netns-orphan-'), 'lab');
    dirs.push(dir);
    // The owner stands for a test process that gets SIGKILLed with the lab up it started.
    const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
    const up = spawnLabUp(dir, ['--topology', 'pair', '--switch', 'dns'], {
      ...process.env,
      [OWNER_ENV]: String(owner.pid),
    });
    await until(() => (readState(dir)?.processes.length ?? 0) > 0, 120_000, 'a first process');
    owner.kill('SIGKILL');
    process.kill(-up.pid!, 'SIGKILL');
    const state = readState(dir)!;
    const prefix = state.network!.prefix;
    expect(existsSync(path.join(LAB_REGISTRY, `${state.network!.id}.json`))).toBe(true);
    expect((await hostNetwork()).netns.filter((n) => n.startsWith(prefix)).length).toBeGreaterThan(
      5,
    );
    expect(readdirSync('/etc/netns').filter((n) => n.startsWith(prefix))).not.toEqual([]);

    const swept = await sweepOrphanLabs();
    expect(swept).toContainEqual({ prefix, why: `its owner (pid ${owner.pid}) is gone` });
    for (const p of state.processes) expect(groupAlive(p.pgid), p.name).toBe(false);
    await expectHostAsBefore(before, prefix);
    expect(readdirSync('/etc/netns').filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(existsSync(path.join(LAB_REGISTRY, `${state.network!.id}.json`))).toBe(false);
  }, 180_000);

  it('lab down removes a lab whose record was lost, from lab.json: namespaces, processes, /etc/netns', async () => {
    const dir = path.join(tempDir('gh-netns-lost-'), 'lab');
    dirs.push(dir);
    const up = spawnLabUp(dir, ['--topology', 'pair', '--switch', 'dns']);
    await until(() => (readState(dir)?.processes.length ?? 0) > 0, 120_000, 'a first process');
    process.kill(-up.pid!, 'SIGKILL');
    const state = readState(dir)!;
    const { prefix, id } = state.network!;
    // Lost: its record in the machine's registry. The sweep cannot tell it from a lab up at
    // work for half an hour (the age of an unrecorded namespace is its nsfs file's, which no
    // one can set back: utimes gives EPERM), so this test does not wait for the sweep.
    rmSync(path.join(LAB_REGISTRY, `${id}.json`));
    expect((await sweepOrphanLabs()).map((r) => r.prefix)).not.toContain(prefix);
    expect((await hostNetwork()).netns.filter((n) => n.startsWith(prefix))).not.toEqual([]);
    const down = await gatehouse(['lab', 'down', '--dir', dir]);
    expect(down.code, down.stderr).toBe(0);
    for (const p of state.processes) expect(groupAlive(p.pgid), p.name).toBe(false);
    await expectHostAsBefore(before, prefix);
    const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns') : [];
    expect(etc.filter((n) => n.startsWith(prefix))).toEqual([]);
  }, 180_000);
});
