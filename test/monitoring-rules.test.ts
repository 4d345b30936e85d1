import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = fileURLToPath(new URL('../deploy/prometheus/', import.meta.url));

/** Run promtool in deploy/prometheus; its output whatever the exit code. */
async function promtool(...args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: dir });
    return { ok: true, output: stdout + stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe('Prometheus alert rules (deploy/prometheus/gatehouse.rules.yml)', () => {
  it('are valid rules for promtool', async () => {
    const { ok, output } = await promtool('check', 'rules', 'gatehouse.rules.yml');
    expect(output).toContain('SUCCESS: 9 rules found');
    expect(ok).toBe(true);
  });

  it('fire, and stay quiet, as their unit tests with sample series expect', async () => {
    const { ok, output } = await promtool('test', 'rules', 'gatehouse.rules.test.yml');
    expect(output, output).toContain('SUCCESS');
    expect(ok).toBe(true);
  });

  it('have a unit test for every alert', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parse } = await import('yaml');
    const rules = parse(await readFile(`${dir}gatehouse.rules.yml`, 'utf8')) as {
      groups: { rules: { alert: string }[] }[];
    };
    const tests = parse(await readFile(`${dir}gatehouse.rules.test.yml`, 'utf8')) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
    const firing = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    const quiet = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname),
      ),
    );
    expect([...firing].sort()).toEqual(alerts);
    expect([...quiet].sort()).toEqual(alerts);
  });

  it('reports a broken rule file as promtool sees it (the check can fail)', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const tmp = await mkdtemp(`${os.tmpdir()}/gh-rules-`);
    try {
      await writeFile(
        `${tmp}/bad.yml`,
        'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: gatehouse_disk_free_bytes <\n',
      );
      const { ok, output } = await promtool('check', 'rules', `${tmp}/bad.yml`);
      expect(ok).toBe(false);
      expect(output).toMatch(/FAILED|error/i);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
