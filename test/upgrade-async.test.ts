import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import { until } from './support/appliance.js';
import { NEXT_VERSION, startPairDeployment, runUpgrade } from './support/deployment.js';
import { whoAnswers } from './support/probe.js';

const KEY = 'upgrade-async-key-0123456789abcdefghijkl';

const upgrade = runUpgrade;

describe('gatehouse upgrade: asynchronous upgrade of a failover pair with a shared IP (S3, S4)', () => {
  it('plans, catches mismatched keys, runs both windows, survives a SIGKILL of the orchestrator, and loses nothing', async () => {
    const d = await startPairDeployment({
      a: '127.0.0.111',
      b: '127.0.0.112',
      shared: '127.0.0.110',
      key: KEY,
    });
    const [a, b] = d.appliances as [(typeof d.appliances)[0], (typeof d.appliances)[0]];
    const port = a.proc.port;
    const common = ['--inventory', d.inventory];
    const planArgs = [...common, '--strategy', 'asynchronous', '--packages', d.packages];

    // Mismatched Inter-Appliance keys are caught by plan, which changes nothing.
    expect(
      (
        await b.api.call('PUT', '/api/login/security/inter-appliance-key', {
          json: { key: 'x'.repeat(40) },
        })
      ).status,
    ).toBe(200);
    const bad = await upgrade(['plan', ...planArgs]).done;
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/✗ Inter-Appliance keys identical: the keys differ/);
    expect(
      (await b.api.call('PUT', '/api/login/security/inter-appliance-key', { json: { key: KEY } }))
        .status,
    ).toBe(200);

    const plan = await upgrade(['plan', ...planArgs]).done;
    expect(plan.code, plan.out).toBe(0);
    expect(plan.out).toMatch(
      /Switch the site's traffic from pair-a to pair-b \(shared-ip\) \[S19, S3\] — site downtime/,
    );
    expect(plan.out).toMatch(/Predicted client-visible downtime: 0\.1 s/);

    // Window 1: B upgraded, the site switched to it; then the interim pause (S4).
    const w1 = await upgrade(['run', ...planArgs]).done;
    expect(w1.code, w1.out).toBe(0);
    expect(w1.out).toContain('gatehouse upgrade continue');
    expect(
      (await b.api.call<{ productVersion: string }>('GET', '/health')).body.productVersion,
    ).toBe(NEXT_VERSION);
    expect(
      (await a.api.call<{ productVersion: string }>('GET', '/health')).body.productVersion,
    ).toBe(PRODUCT_VERSION);
    expect(await whoAnswers('127.0.0.110', port)).toBe('pair-b');
    const resumeWhilePaused = await upgrade(['resume', ...common]).done;
    expect(resumeWhilePaused.code).toBe(2);
    expect(resumeWhilePaused.out).toContain('UPGRADE_PAUSED');

    // Window 2, with the orchestrator killed while A installs; resume finishes it.
    const journal = path.join(d.dir, 'gatehouse-upgrade', 'journal.ndjson');
    const w2 = upgrade(['continue', ...common, '--json']);
    await until(
      () => readFileSync(journal, 'utf8').includes('"id":"install-2","status":"started"'),
      60_000,
      'the install on A to start',
    );
    w2.child.kill('SIGKILL');
    await w2.done;
    const resumed = await upgrade(['resume', ...common]).done;
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toMatch(/✓ .* \(done earlier\)/);

    const report = JSON.parse(
      readFileSync(path.join(d.dir, 'gatehouse-upgrade', 'report.json'), 'utf8'),
    );
    expect(report.outcome).toBe('finished');
    expect(report.integrity.lost).toEqual([]);
    expect(report.integrity.mismatched).toEqual([]);
    // The live load's long sessions (resumable legs) moved with the site: none dropped.
    expect(report.sessions.longOpened).toBeGreaterThan(0);
    expect(report.sessions.dropped, JSON.stringify(report.sessions.failures)).toBe(0);
    expect(report.downtime.probes).toBeGreaterThan(20);
    expect(report.downtime.totalMs).toBeLessThan(3_000);
    expect(
      report.steps.every((s: { status: string }) => s.status === 'done' || s.status === 'paused'),
    ).toBe(true);
    const html = readFileSync(path.join(d.dir, 'gatehouse-upgrade', 'report.html'), 'utf8');
    expect(html).toContain('<svg id="timeline"');
    // Both run the new version; B is primary with A as its backup.
    for (const t of [a, b])
      expect(
        (await t.api.call<{ productVersion: string }>('GET', '/health')).body.productVersion,
      ).toBe(NEXT_VERSION);
    expect((await b.api.call<{ role: string }>('GET', '/health')).body.role).toBe('primary');
    expect((await a.api.call<{ role: string }>('GET', '/health')).body.role).toBe('backup');
  }, 300_000);
});
