import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from './support/appliance.js';
import { cli } from './support/cli.js';

const run = promisify(execFile);

/** `systemd-analyze verify`: its exit code and everything it said (warnings go to stderr). */
async function verify(file: string): Promise<{ ok: boolean; said: string }> {
  try {
    const { stdout, stderr } = await run('systemd-analyze', ['verify', file]);
    return { ok: true, said: stdout + stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, said: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const directives = (unit: string, name: string) =>
  unit
    .split('\n')
    .filter((l) => l.startsWith(`${name}=`))
    .map((l) => l.slice(name.length + 1));

describe('appliance install-service', () => {
  const dir = tempDir('gh-unit-');

  it('writes a unit systemd-analyze verifies without a word: own user, least capabilities, read-only system', async () => {
    const file = path.join(dir, 'gatehouse.service');
    const out = await cli([
      'appliance',
      'install-service',
      '--data-dir',
      '/var/lib/gatehouse',
      '--listen',
      '0.0.0.0:443',
      '--output',
      file,
    ]);
    expect(out.stdout).toContain('systemctl daemon-reload');
    const unit = readFileSync(file, 'utf8');
    expect(await verify(file)).toEqual({ ok: true, said: '' });
    expect(directives(unit, 'User')).toEqual(['gatehouse']);
    expect(directives(unit, 'CapabilityBoundingSet')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(directives(unit, 'AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(directives(unit, 'ProtectSystem')).toEqual(['strict']);
    expect(directives(unit, 'ReadWritePaths')).toEqual(['/var/lib/gatehouse']);
    expect(directives(unit, 'Restart')).toEqual(['on-failure']);
    expect(directives(unit, 'NoNewPrivileges')).toEqual(['yes']);
    // The supervisor alone gets SIGTERM and stops its worker, which gives up after 30 s.
    expect(directives(unit, 'KillMode')).toEqual(['mixed']);
    expect(directives(unit, 'KillSignal')).toEqual(['SIGTERM']);
    expect(Number.parseInt(directives(unit, 'TimeoutStopSec')[0]!)).toBeGreaterThan(30);
    expect(directives(unit, 'ExecStart')[0]).toMatch(
      /^\/\S+ \/\S+\/bin\/gatehouse\.js appliance start --data-dir \/var\/lib\/gatehouse --listen 0\.0\.0\.0:443$/,
    );
  });

  it('adds CAP_NET_ADMIN and CAP_NET_RAW only for the shared-IP switch, and keeps a data directory in /tmp visible', async () => {
    const dataDir = path.join(dir, 'data');
    const { stdout: unit } = await cli([
      'appliance',
      'install-service',
      '--data-dir',
      dataDir,
      '--listen',
      '[::]:8443',
      '--shared-ip',
      '--user',
      'gh-appliance',
    ]);
    const file = path.join(dir, 'shared-ip.service');
    writeFileSync(file, unit);
    expect(await verify(file)).toEqual({ ok: true, said: '' });
    expect(directives(unit, 'CapabilityBoundingSet')).toEqual([
      'CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_NET_RAW',
    ]);
    expect(directives(unit, 'RestrictAddressFamilies')[0]).toContain('AF_NETLINK AF_PACKET');
    expect(directives(unit, 'User')).toEqual(['gh-appliance']);
    expect(directives(unit, 'PrivateTmp')).toEqual(['no']);
    expect(directives(unit, 'ExecStart')[0]).toContain(`--listen [::]:8443`);
  });

  it('refuses a user name or a data directory systemd would misread, naming the option', async () => {
    const bad = await cli([
      'appliance',
      'install-service',
      '--data-dir',
      '/srv/my data',
      '--listen',
      '0.0.0.0:443',
      '--user',
      'Root User',
    ]).catch((e: { code: number; stderr: string }) => e);
    expect('code' in bad && bad.code).toBe(2);
    expect((bad as { stderr: string }).stderr).toMatch(/user: must be a system user name/);
  });

  it('is checked by a verifier that does complain about a damaged unit', async () => {
    const { stdout: unit } = await cli([
      'appliance',
      'install-service',
      '--data-dir',
      '/var/lib/gatehouse',
      '--listen',
      '0.0.0.0:443',
    ]);
    const file = path.join(dir, 'damaged.service');
    writeFileSync(file, unit.replace('ProtectSystem=strict', 'ProtectSystem=everything'));
    expect((await verify(file)).said).toContain('Failed to parse protect system value');
  });
});
