import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import { tempDir, type TestAppliance } from './support/appliance.js';
import { NEXT_VERSION, startPairDeployment, runUpgrade } from './support/deployment.js';
import { brokenProductTree } from './support/updates.js';

/** /health through a new connection: the appliance restarted during the upgrade. */
const health = async (t: TestAppliance) => {
  const c = t.proc.client();
  try {
    return (
      await c.call<{ productVersion: string; role: string; ready: boolean }>('GET', '/health')
    ).body;
  } finally {
    await c.close();
  }
};

const upgrade = (args: string[]) => runUpgrade(args).done;

describe('gatehouse upgrade: synchronous upgrade of a failover pair (S2, S4)', () => {
  it('upgrades the primary first, keeping its role, then the backup, and re-establishes failover with nothing lost', async () => {
    const d = await startPairDeployment({
      a: '127.0.0.114',
      b: '127.0.0.115',
      shared: '127.0.0.113',
      key: 'upgrade-sync-key-0123456789abcdefghijklm',
    });
    const [a, b] = d.appliances as [(typeof d.appliances)[0], (typeof d.appliances)[0]];
    const args = [
      '--inventory',
      d.inventory,
      '--strategy',
      'synchronous',
      '--packages',
      d.packages,
    ];
    const w1 = await upgrade(['run', ...args]);
    expect(w1.code, w1.out).toBe(0);
    expect(w1.out).toMatch(/Install product .* on pair-a \[S9\] — site downtime/);
    expect(
      (await a.api.call<{ productVersion: string; role: string }>('GET', '/health')).body,
    ).toMatchObject({ productVersion: NEXT_VERSION, role: 'standalone' });
    const w2 = await upgrade(['continue', '--inventory', d.inventory]);
    expect(w2.code, w2.out).toBe(0);
    const report = JSON.parse(
      readFileSync(path.join(d.dir, 'gatehouse-upgrade', 'report.json'), 'utf8'),
    );
    expect(report.outcome).toBe('finished');
    expect(report.integrity).toMatchObject({
      primary: 'pair-a',
      lost: [],
      mismatched: [],
      removed: [],
      notCompared: [],
    });
    // The site is down while the primary restarts, no longer: a stopping appliance does not
    // wait for the clients connected through the shared address to hang up (it waited 30 s).
    expect(report.downtime.totalMs).toBeGreaterThan(0);
    expect(report.downtime.totalMs).toBeLessThan(10_000);
    // The live load's long sessions paused for the install (no other appliance served the site
    // meanwhile) and resumed: none dropped.
    expect(report.sessions.longOpened).toBeGreaterThan(0);
    expect(report.sessions.dropped, JSON.stringify(report.sessions.failures)).toBe(0);
    console.log(
      `synchronous runbook: longest pause of a long session ${report.sessions.longestPauseMs} ms; downtime ${report.downtime.totalMs} ms`,
    );
    // The primary kept its role: no failover event (S2).
    expect((await a.api.call<{ role: string }>('GET', '/health')).body.role).toBe('primary');
    expect(
      (await b.api.call<{ role: string; productVersion: string }>('GET', '/health')).body,
    ).toMatchObject({ role: 'backup', productVersion: NEXT_VERSION });
    // The last verification went through the site: a session, the console build consoles will
    // download (the new version), and the Integration Client exporting.
    const verified = readFileSync(path.join(d.dir, 'gatehouse-upgrade', 'journal.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; id?: string; status?: string; detail?: unknown })
      .filter((e) => e.type === 'step' && e.status === 'done' && e.id?.startsWith('verify-'))
      .at(-1)?.detail as {
      consoleBuild?: string;
      integrationExport?: { events: { new: number; alreadyHad: number } };
    };
    expect(verified.consoleBuild).toBe(NEXT_VERSION);
    const events = verified.integrationExport!.events;
    expect(events.new + events.alreadyHad).toBeGreaterThan(0);
    // The report command prints the same figures.
    const printed = await upgrade(['report', '--inventory', d.inventory]);
    expect(printed.out).toContain('client-visible downtime');
  }, 300_000);

  it('stops safely when the package fails its health check: rolled back automatically, the site still serves, rollback advice given', async () => {
    const broken = brokenProductTree(tempDir('gh-broken-'), 'crash-at-start');
    const d = await startPairDeployment({
      a: '127.0.0.117',
      b: '127.0.0.118',
      shared: '127.0.0.116',
      key: 'upgrade-sync-key-0123456789abcdefghijklm',
      packageFrom: broken,
    });
    const [a] = d.appliances;
    const run = await upgrade([
      'run',
      '--inventory',
      d.inventory,
      '--strategy',
      'synchronous',
      '--packages',
      d.packages,
    ]);
    expect(run.code, run.out).toBe(1);
    expect(run.out).toContain('UPGRADE_INSTALL_ROLLED_BACK');
    expect(run.out).toContain('Rollback is still safe');
    expect(await health(a!)).toMatchObject({ productVersion: PRODUCT_VERSION, ready: true });
    const journal = readFileSync(path.join(d.dir, 'gatehouse-upgrade', 'journal.ndjson'), 'utf8');
    expect(journal).toContain('"status":"failed"');
    expect(journal).not.toContain('"type":"finished"');
  }, 300_000);
});
