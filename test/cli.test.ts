import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ApplianceClient } from '../src/clients/admin-client.js';
import { GATEHOUSE_BIN, startApplianceProcess } from '../src/lab/processes.js';
import {
  ADMIN_PASSWORD,
  LOGIN_PASSWORD,
  startTestAppliance,
  tempDir,
} from './support/appliance.js';

const exec = promisify(execFile);

async function gatehouse(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [GATEHOUSE_BIN, ...args], {
      env: { ...process.env, GATEHOUSE_ADMIN_PASSWORD: '', GATEHOUSE_LOGIN_PASSWORD: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('gatehouse CLI', () => {
  it('lists every command with help text', async () => {
    const top = await gatehouse(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/appliance\s+create and run an appliance/);
    const sub = await gatehouse(['appliance', '--help']);
    expect(sub.stdout).toMatch(/init\s+\[options\]\s+create a new appliance data directory/);
    expect(sub.stdout).toMatch(/start\s+\[options\]\s+run an appliance over HTTPS/);
    for (const [cmd, text] of [
      ['package', /build\s+\[options\]\s+build one signed package file/],
      ['update-server', /publish\s+\[options\]/],
    ] as const) {
      const help = await gatehouse([cmd, '--help']);
      expect(help.code, cmd).toBe(0);
      expect(help.stdout).toMatch(text);
    }
    // `--version` after a command belongs to that command (package build --version V).
    const build = await gatehouse(['package', 'build', '--version', '1.2.3']);
    expect(build.code).toBe(2);
    expect(build.stderr).toContain("required option '--kind <kind>' not specified");
    expect((await gatehouse(['--version'])).code).toBe(0);
  });

  it('exits 2 for bad command-line input, naming the option, as for any bad input', async () => {
    const choice = await gatehouse([
      'upgrade',
      'plan',
      '--inventory',
      'x.yaml',
      '--strategy',
      'fast',
    ]);
    expect(choice.code).toBe(2);
    expect(choice.stderr).toMatch(/--strategy.*fast.*Allowed choices/s);
    const unknown = await gatehouse(['console', 'jump-clients', '--colour']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--colour'");
    const fingerprint = await gatehouse([
      'customer-client',
      '--site',
      '127.0.0.1:1',
      '--fingerprint',
      'nope',
      '--allow',
      '127.0.0.1:22',
    ]);
    expect(fingerprint.code).toBe(2);
    expect(fingerprint.stderr).toContain('--fingerprint');
    expect((await gatehouse(['customer-client', '--help'])).code).toBe(0);
  });

  it('init generates passwords when none are given, shows them once, and they work', async () => {
    const dir = path.join(tempDir(), 'a');
    const res = await gatehouse([
      'appliance',
      'init',
      '--data-dir',
      dir,
      '--name',
      'gen-pass',
      '--address',
      '127.0.0.1',
      '--hostname',
      'site.gatehouse.test',
    ]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /TLS certificate SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}/,
    );
    const admin = /\/appliance password for "admin".*: (\S+)/.exec(res.stdout)?.[1];
    const login = /\/login password for "admin".*: (\S+)/.exec(res.stdout)?.[1];
    expect(admin && login).toBeTruthy();
    const proc = await startApplianceProcess(dir);
    const fingerprint = /TLS certificate SHA-256 fingerprint: (\S+)/.exec(res.stdout)![1]!;
    // The printed fingerprint is the one a peer pins.
    const pinned = new ApplianceClient(proc.url, { fingerprint });
    try {
      await pinned.signIn('appliance', 'admin', admin!);
      await pinned.signIn('login', 'admin', login!);
      expect((await pinned.call('GET', '/api/login/users')).status).toBe(200);
      expect(proc.output.join('\n')).toContain(fingerprint);
    } finally {
      await pinned.close();
      await proc.stop();
    }
  });

  it('refuses a pinned connection to an appliance with another certificate', async () => {
    const t = await startTestAppliance({ name: 'pin-check' });
    const wrong = new ApplianceClient(t.proc.url, { fingerprint: 'AA:'.repeat(31) + 'AA' });
    try {
      await expect(wrong.call('GET', '/health')).rejects.toThrow(/not the pinned/);
    } finally {
      await wrong.close();
    }
  });

  it('refuses bad init input with the field and the fix, creating nothing', async () => {
    const root = tempDir();
    const weak = await gatehouse(
      ['appliance', 'init', '--data-dir', path.join(root, 'weak'), '--name', 'w'],
      { GATEHOUSE_LOGIN_PASSWORD: 'short' },
    );
    expect(weak.code).toBe(2);
    expect(weak.stderr).toContain('login-password: must be at least 12 characters long');
    expect(existsSync(path.join(root, 'weak'))).toBe(false);

    const badName = await gatehouse([
      'appliance',
      'init',
      '--data-dir',
      path.join(root, 'bad'),
      '--name',
      'no spaces!',
    ]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/name: must be/);

    const busy = path.join(root, 'busy');
    mkdirSync(busy);
    writeFileSync(path.join(busy, 'keep.txt'), 'mine');
    const notEmpty = await gatehouse(['appliance', 'init', '--data-dir', busy, '--name', 'x']);
    expect(notEmpty.code).toBe(2);
    expect(notEmpty.stderr).toContain('DATA_DIR_NOT_EMPTY');
    expect(readdirSync(busy)).toEqual(['keep.txt']);
  });

  it('refuses to start without a data directory, on a bad or busy address, or twice on one directory', async () => {
    const root = tempDir();
    const missing = await gatehouse([
      'appliance',
      'start',
      '--data-dir',
      path.join(root, 'nothing'),
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('APPLIANCE_NOT_INITIALISED');
    expect(missing.stderr).toContain('gatehouse appliance init');

    const badListen = await gatehouse([
      'appliance',
      'start',
      '--data-dir',
      root,
      '--listen',
      'localhost',
    ]);
    expect(badListen.code).not.toBe(0);
    expect(badListen.stderr).toContain('expected HOST:PORT');

    const t = await startTestAppliance({ name: 'twice' });
    const again = await gatehouse([
      'appliance',
      'start',
      '--data-dir',
      t.dataDir,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('DATA_DIR_IN_USE');

    const holder = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    const port = (holder.address() as net.AddressInfo).port;
    const dir = path.join(root, 'inuse');
    await gatehouse(['appliance', 'init', '--data-dir', dir, '--name', 'inuse'], {
      GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      GATEHOUSE_LOGIN_PASSWORD: LOGIN_PASSWORD,
    });
    const inUse = await gatehouse([
      'appliance',
      'start',
      '--data-dir',
      dir,
      '--listen',
      `127.0.0.1:${port}`,
    ]);
    holder.close();
    expect(inUse.code).toBe(2);
    expect(inUse.stderr).toContain('the port is in use');
    // Several appliance starts: 12 s alone at load 9, up to 3× that on a loaded CI machine.
  }, 120_000);

  it('runs the demo on embedded defaults end to end and cleans up', async () => {
    const res = await gatehouse(['demo', '--walkthrough', '--exit']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('a weak password is refused (HTTP 400');
    expect(res.stdout).toContain('rep.demo is back: true');
    expect(res.stdout).toMatch(/health-checked in \d+ ms; it now runs \d+\.\d+\.\d+/);
    const dataDir = /initialising appliance-a in (\S+)/.exec(res.stdout)![1]!;
    expect(existsSync(dataDir)).toBe(false);
    // A whole demo (two appliances, an install): 13 s alone at load 9, up to 3× that on CI.
  }, 120_000);
});
