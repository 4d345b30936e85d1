import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/lab/processes.js';
import { startTestAppliance, tempDir } from './support/appliance.js';
import { cliResult, siteSignIn } from './support/cli.js';

const KEY = 'integration-primary-key-0123456789abcdefgh';
const HOSTNAME = `site-primary-${process.pid}.gatehouse.test`;
// The site hostname leads to B, as after the traffic switch of an asynchronous upgrade.
const HOSTS_LINE = `127.0.0.142 ${HOSTNAME}`;

function setHostsLine(present: boolean): void {
  const lines = readFileSync('/etc/hosts', 'utf8')
    .split('\n')
    .filter((l) => l !== HOSTS_LINE && l !== '');
  writeFileSync('/etc/hosts', [...lines, ...(present ? [HOSTS_LINE] : [])].join('\n') + '\n');
}

interface Summary {
  appliance: string;
  primary: { primary: boolean | null; why: string };
}

afterAll(() => setHostsLine(false));

describe('gatehouse integration export off the primary', () => {
  it("warns when the appliance read is not the site's primary (standalone after the switch, then a backup), fails with --require-primary writing nothing, and marks the events an appliance logged about itself", async () => {
    setHostsLine(true);
    const port = await freePort('127.0.0.141');
    const [a, b] = await Promise.all([
      startTestAppliance({ name: 'ip-a', host: '127.0.0.141', port, interApplianceKey: KEY }),
      startTestAppliance({ name: 'ip-b', host: '127.0.0.142', port, interApplianceKey: KEY }),
    ]);
    for (const t of [a, b]) {
      const set = await t.api.call('PATCH', '/api/login/settings', {
        json: { siteHostname: HOSTNAME },
      });
      expect(set.status).toBe(200);
    }
    const root = tempDir('gh-intprimary-');
    const run = async (t: typeof a, out: string, extra: string[] = []) => {
      const admin = siteSignIn(t.proc);
      const r = await cliResult(
        [
          'integration',
          'export',
          ...admin.args,
          '--out',
          path.join(root, out),
          '--sqlite',
          path.join(root, `${out}.db`),
          '--json',
          ...extra,
        ],
        admin.env,
      );
      const summary = r.code === 0 ? (JSON.parse(r.stdout) as Summary) : undefined;
      return { code: r.code, summary, stderr: r.stderr };
    };

    // Both standalone, the hostname leads to B: A is read by its own address.
    const fromA = await run(a, 'a');
    expect(fromA.code, fromA.stderr).toBe(0);
    expect(fromA.summary?.primary).toEqual({
      primary: false,
      why: `the site hostname ${HOSTNAME} leads to another appliance, not ip-a`,
    });
    expect(fromA.stderr).toContain(`warning: the site hostname ${HOSTNAME} leads to another`);
    expect(fromA.stderr).toContain(`give --site ${HOSTNAME}:${port}`);
    const refused = await run(a, 'a-required', ['--require-primary']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('EXPORT_NOT_PRIMARY');
    expect(refused.stderr).toContain('nothing was exported');
    expect(existsSync(path.join(root, 'a-required'))).toBe(false);
    expect(existsSync(path.join(root, 'a-required.db'))).toBe(false);

    // B, read by its address, is where the hostname leads: no warning, even when required.
    const fromB = await run(b, 'b', ['--require-primary']);
    expect(fromB.code, fromB.stderr).toBe(0);
    expect(fromB.summary?.primary).toEqual({
      primary: true,
      why: `the site hostname ${HOSTNAME} leads to ip-b`,
    });
    expect(fromB.stderr).not.toContain('warning');

    // Failover from B: A is now its backup.
    const established = await b.api.call('POST', '/api/login/failover/establish', {
      json: {
        backupHost: a.proc.host,
        backupPort: port,
        reverseHost: b.proc.host,
        reversePort: port,
        firstSyncAfterSeconds: 1,
      },
    });
    expect(established.status, JSON.stringify(established.body)).toBe(201);
    const backup = await run(a, 'a');
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.summary?.primary).toEqual({ primary: false, why: 'ip-a is a failover backup' });
    expect((await run(a, 'a-required', ['--require-primary'])).code).toBe(2);

    // Every exported event says whether it is the site's history or the appliance's own.
    const events = readdirSync(path.join(root, 'b', 'logs')).flatMap((f) =>
      readFileSync(path.join(root, 'b', 'logs', f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; action: string; scope: string }),
    );
    expect(events.find((e) => e.action === 'appliance.started')?.scope).toBe('appliance');
    const settings = events.filter((e) => e.action === 'settings.updated');
    expect(settings.length).toBeGreaterThan(0);
    for (const e of settings) expect(e.scope).toBe('site');
    expect(new Set(events.map((e) => e.scope))).toEqual(new Set(['site', 'appliance']));
    const db = new Database(path.join(root, 'b.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT id, scope FROM events').all() as {
        id: string;
        scope: string;
      }[];
      expect(new Map(rows.map((r) => [r.id, r.scope]))).toEqual(
        new Map(events.map((e) => [e.id, e.scope])),
      );
    } finally {
      db.close();
    }
  }, 120_000);
});
