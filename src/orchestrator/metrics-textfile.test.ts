import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeUpgradeTextfile } from './metrics-textfile.js';
import type { UpgradeReport } from './report.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-textfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'gatehouse-upgrade.prom');
const series = (name: string) => {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe('the orchestrator textfile for Prometheus (--metrics-textfile)', () => {
  it('says a run is in progress at its start, then its outcome, downtime and integrity, valid for promtool', async () => {
    await writeUpgradeTextfile(file, undefined);
    expect(series('gatehouse_upgrade_in_progress')).toBe(1);
    expect(series('gatehouse_upgrade_outcome{outcome="finished"}')).toBeUndefined();

    const report = {
      outcome: 'finished',
      predicted: { siteDowntimeMs: 4000, withoutFailoverMs: 0, totalMs: 0 },
      downtime: { totalMs: 1750, outages: [], unmeasured: [], probes: 100, failedProbes: 7 },
      withoutFailoverMs: 35_400,
      integrity: { lost: [], mismatched: [] },
    } as unknown as UpgradeReport;
    await writeUpgradeTextfile(file, report);
    expect(series('gatehouse_upgrade_in_progress')).toBe(0);
    expect(series('gatehouse_upgrade_outcome{outcome="finished"}')).toBe(1);
    expect(series('gatehouse_upgrade_outcome{outcome="failed"}')).toBe(0);
    expect(series('gatehouse_upgrade_downtime_seconds')).toBe(1.75);
    expect(series('gatehouse_upgrade_without_failover_seconds')).toBe(35.4);
    expect(series('gatehouse_upgrade_integrity_ok')).toBe(1);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: readFileSync(file) });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);

    await writeUpgradeTextfile(file, {
      ...report,
      outcome: 'paused',
      integrity: { lost: ['users: admin2'], mismatched: [] },
    } as unknown as UpgradeReport);
    expect(series('gatehouse_upgrade_in_progress')).toBe(1);
    expect(series('gatehouse_upgrade_integrity_ok')).toBe(0);
  });
});
