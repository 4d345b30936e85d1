import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/lab/processes.js';
import {
  establishPair,
  startTestAppliance,
  tempDir,
  until,
  type TestAppliance,
} from './support/appliance.js';
import {
  NEXT_VERSION,
  runUpgrade,
  startNamedAppliance,
  writeInventory,
} from './support/deployment.js';
import { buildTestPackage, makeReleaseKey } from './support/updates.js';

const KEY = 'health-primary-key-0123456789abcdefghijk';
const HAPROXY = process.env.GATEHOUSE_HAPROXY ?? '/usr/sbin/haproxy';

/** GET over TLS, the certificate not checked (through HAProxy it is either appliance's). */
function get(host: string, port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host, port, path: p, rejectUnauthorized: false, timeout: 3_000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The name of the appliance that answered `/health` there, or why none did. */
const answerBehind = async (
  host: string,
  port: number,
): Promise<{ who?: string; why?: string }> => {
  try {
    const r = await get(host, port, '/health');
    const who = (JSON.parse(r.body) as { name?: string }).name;
    return who ? { who } : { why: `HTTP ${r.status}: ${r.body.slice(0, 120)}` };
  } catch (e) {
    return { why: (e as Error).message };
  }
};
const nameBehind = async (host: string, port: number) => (await answerBehind(host, port)).who;

const haproxies: ChildProcess[] = [];
afterAll(() => {
  for (const h of haproxies) h.kill('SIGKILL');
});

/** The configuration docs/failover.md shows, on loopback: TLS passes through untouched. */
function startHaproxy(dir: string, front: string, backends: TestAppliance[], names: string[]) {
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    `global
  log stderr format raw local0
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  # without it a check's whole timeout is inter's 250 ms: on a loaded machine two slow answers
  # in a row marked a healthy primary down and the site failed 15 s before the switch
  timeout check 2s
frontend site
  bind ${front}
  default_backend appliances
backend appliances
  option httpchk GET /health/primary
  http-check expect status 200
  default-server check check-ssl verify none inter 250ms fall 2 rise 1 on-marked-down shutdown-sessions
${backends.map((t, i) => `  server ${names[i]} ${t.proc.host}:${t.proc.port}`).join('\n')}
`,
  );
  const h = spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  haproxies.push(h);
  // What HAProxy says of its servers (marked down, why), with the time, to explain a failure.
  const said: string[] = [];
  h.stderr!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n').filter(Boolean)) {
      said.push(`${new Date().toISOString()} ${line}`);
    }
  });
  return said;
}

describe('GET /health/primary: a load balancer as a traffic switch', () => {
  it('answers 200 on the primary only, so a real HAProxy in front of the pair follows a role switch', async () => {
    const [a, b] = await Promise.all([
      startTestAppliance({ name: 'hp-a', host: '127.0.0.150', interApplianceKey: KEY }),
      startTestAppliance({ name: 'hp-b', host: '127.0.0.151', interApplianceKey: KEY }),
    ]);
    const status = async (t: TestAppliance, p: string) =>
      (await get(t.proc.host, t.proc.port, p)).status;
    // Standalone, each serves its own clients: each is "primary" for a load balancer.
    expect(await status(a, '/health/primary')).toBe(200);
    expect(await status(b, '/health/backup')).toBe(503);
    expect((await establishPair(a, b)).status).toBe(201);
    expect([await status(a, '/health/primary'), await status(b, '/health/primary')]).toEqual([
      200, 503,
    ]);
    expect([await status(a, '/health/backup'), await status(b, '/health/backup')]).toEqual([
      503, 200,
    ]);

    const dir = tempDir('gh-haproxy-');
    const front = await freePort('127.0.0.152');
    startHaproxy(dir, `127.0.0.152:${front}`, [a, b], ['hp-a', 'hp-b']);
    await until(
      async () => (await nameBehind('127.0.0.152', front)) === 'hp-a',
      15_000,
      'HAProxy to send the site to hp-a',
    );

    expect(
      (await a.api.call('POST', '/api/login/failover/become-backup', { json: {} })).status,
    ).toBe(200);
    await until(
      async () => (await nameBehind('127.0.0.152', front)) === 'hp-b',
      15_000,
      'HAProxy to follow the role switch to hp-b',
    );
    // Every new connection goes to the new primary only.
    for (let i = 0; i < 5; i++) expect(await nameBehind('127.0.0.152', front)).toBe('hp-b');
  });

  it('a real HAProxy is the traffic switch of an asynchronous upgrade run by the orchestrator: the site is on one appliance at a time, and the failed requests through it are counted', async () => {
    const dir = tempDir('gh-haproxy-async-');
    const release = makeReleaseKey(dir);
    const packages = path.join(dir, 'packages');
    mkdirSync(packages);
    const start = (name: string, host: string) =>
      startNamedAppliance({ name, host, interApplianceKey: KEY, releasePub: release.pubFile });
    const [a, b] = await Promise.all([
      start('lb-a', '127.0.0.153'),
      start('lb-b', '127.0.0.154'),
      buildTestPackage({
        kind: 'product',
        version: NEXT_VERSION,
        keyFile: release.keyFile,
        out: path.join(packages, `product-${NEXT_VERSION}.ghpkg`),
      }),
    ]);
    expect((await establishPair(a!, b!)).status).toBe(201);
    expect((await a!.api.call('POST', '/api/login/failover/sync')).status).toBe(200);
    const front = await freePort('127.0.0.155');
    const haproxySaid = startHaproxy(dir, `127.0.0.155:${front}`, [a!, b!], ['lb-a', 'lb-b']);
    await until(
      async () => (await nameBehind('127.0.0.155', front)) === 'lb-a',
      15_000,
      'HAProxy to send the site to lb-a',
    );
    const inventory = await writeInventory(dir, [a!, b!], `127.0.0.155:${front}`, 'load-balancer');

    // A client of the site: a request through HAProxy every 50 ms, noting who answered.
    const seen: { t: number; who?: string; why?: string }[] = [];
    const asking = new Set<Promise<void>>();
    const ask = () => {
      if (asking.size >= 4) return; // a slow answer holds back at most four more
      const t = Date.now();
      const p = answerBehind('127.0.0.155', front).then((answer) => {
        seen.push({ t, ...answer });
        asking.delete(p);
      });
      asking.add(p);
    };
    const prober = setInterval(ask, 50);
    const args = ['--inventory', inventory, '--strategy', 'asynchronous', '--packages', packages];
    try {
      const w1 = await runUpgrade(['run', ...args]).done;
      expect(w1.code, w1.out).toBe(0);
      const w2 = await runUpgrade(['continue', '--inventory', inventory]).done;
      expect(w2.code, w2.out).toBe(0);
    } finally {
      clearInterval(prober);
      await Promise.all(asking);
    }
    seen.sort((x, y) => x.t - y.t);

    const report = JSON.parse(
      readFileSync(path.join(dir, 'gatehouse-upgrade', 'report.json'), 'utf8'),
    ) as {
      outcome: string;
      integrity: { lost: string[]; mismatched: string[] };
      downtime: { totalMs: number; probes: number; failedProbes: number };
      steps: { title: string; start?: number; end?: number }[];
    };
    expect(report.outcome).toBe('finished');
    expect(report.integrity).toMatchObject({ lost: [], mismatched: [] });
    // The site was on lb-a, then on lb-b, never back: lb-b, standalone and upgraded in the
    // interim, got no client before the switch, and lb-a none after it.
    const answered = seen.filter((x) => x.who).map((x) => x.who);
    const firstB = answered.indexOf('lb-b');
    expect(firstB).toBeGreaterThan(0);
    expect(new Set(answered.slice(0, firstB))).toEqual(new Set(['lb-a']));
    expect(new Set(answered.slice(firstB))).toEqual(new Set(['lb-b']));
    // Requests failed only around the switch (lb-a marked down before lb-b taken in).
    const sw = report.steps.find((s) => s.title.startsWith("Switch the site's traffic"))!;
    const failed = seen.filter((x) => !x.who);
    const outside = failed.filter((f) => f.t < sw.start! - 1_000 || f.t > sw.end! + 2_000);
    const when = (t: number) => new Date(t).toISOString();
    expect(
      outside.map((f) => `${when(f.t)}: ${f.why}`),
      `requests failed outside the switch (${when(sw.start!)} to ${when(sw.end!)}); HAProxy said:\n${haproxySaid.join('\n')}`,
    ).toEqual([]);
    console.log(
      `HAProxy async upgrade: ${failed.length} of ${seen.length} requests through HAProxy failed; the orchestrator's probes: ${report.downtime.failedProbes} of ${report.downtime.probes} failed, ${report.downtime.totalMs} ms down`,
    );
    expect(report.downtime.totalMs).toBeLessThan(5_000);
    expect((await nameBehind('127.0.0.155', front)) ?? '').toBe('lb-b');
  }, 300_000);
});
