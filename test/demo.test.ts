import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { GATEHOUSE_BIN } from '../src/lab/processes.js';
import { tempDir } from './support/appliance.js';

const execFileP = promisify(execFile);

describe('the main job: gatehouse demo (what npm run demo runs)', () => {
  it('brings up a cluster-failover lab, upgrades it under live sessions, prints the report and stops the lab', async () => {
    const dir = path.join(tempDir('gh-demo-'), 'lab');
    const { stdout } = await execFileP(
      process.execPath,
      [GATEHOUSE_BIN, 'demo', '--traffic-nodes', '2', '--regions', '2', '--dir', dir],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    // The packages come from the update server the primary node checks (upgrade plan --to).
    expect(stdout).toMatch(/primary-node's update server offers product \d+\.\d+\.\d+/);
    expect(stdout).toContain('Upgrade report — cluster to product');
    expect(stdout).toMatch(/data integrity\s+nothing lost/);
    expect(stdout).toMatch(/client-visible downtime\s+\d+\.\d+ s/);
    const report = JSON.parse(
      readFileSync(path.join(dir, 'gatehouse-upgrade', 'report.json'), 'utf8'),
    );
    expect(report.outcome).toBe('finished');
    expect(
      report.steps.some((s: { title: string }) => s.title.startsWith('Distribute to Cluster')),
    ).toBe(true);
    // The lab was stopped: every process it started is gone.
    const lab = JSON.parse(readFileSync(path.join(dir, 'lab.json'), 'utf8'));
    expect(lab.state).toBe('stopped');
    for (const p of lab.processes as { pid: number }[]) {
      let alive = true;
      try {
        process.kill(p.pid, 0);
      } catch {
        alive = false;
      }
      if (alive) expect(readFileSync(`/proc/${p.pid}/stat`, 'utf8')).toMatch(/\) Z /);
    }
    expect(existsSync(path.join(dir, 'gatehouse-upgrade', 'report.html'))).toBe(true);
  }, 300_000);
});
