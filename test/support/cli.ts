import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { GATEHOUSE_BIN, type ApplianceProcess } from '../../src/lab/processes.js';
import { ADMIN_PASSWORD, LOGIN_PASSWORD } from './appliance.js';

const execFileP = promisify(execFile);
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
});

/** A long-running `gatehouse` process (killed after the test file), its output and exit. */
export function spawnCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [GATEHOUSE_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output: string[] = [];
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited, output: () => output.join('') };
}

/** Run `gatehouse` to its end; rejects on a non-zero exit. */
export const cli = (args: string[], env: Record<string, string> = {}) =>
  execFileP(process.execPath, [GATEHOUSE_BIN, ...args], { env: { ...process.env, ...env } });

/** Run `gatehouse` to its end and give its exit code and output, whatever the code. */
export async function cliResult(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await cli(args, env);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** What a `gatehouse` command needs to sign in: its arguments, and the password's way in. */
export interface CliSignIn {
  args: string[];
  /** The password in $GATEHOUSE_PASSWORD, never in the arguments (a process list shows those). */
  env: { GATEHOUSE_PASSWORD: string };
}

/**
 * An administrators' command (`gatehouse appliance …`, `gatehouse syslog …`) run on `proc` as the
 * `admin` of `area` that startTestAppliance made: `--appliance URL --fingerprint FP --user admin`.
 */
export function adminSignIn(
  proc: Pick<ApplianceProcess, 'url' | 'fingerprint'>,
  area: 'appliance' | 'login',
): CliSignIn {
  return {
    args: ['--appliance', proc.url, '--fingerprint', proc.fingerprint, '--user', 'admin'],
    env: { GATEHOUSE_PASSWORD: area === 'appliance' ? ADMIN_PASSWORD : LOGIN_PASSWORD },
  };
}

/**
 * A client of the site (Jump Client, console, customer client, integration export) reaching
 * `proc`'s port at `host` (default `proc`'s own address; a shared address or a hostname), pinned
 * to `proc`'s certificate, or to the site certificate authority when `siteCa` is given.
 */
export function siteArgs(
  proc: Pick<ApplianceProcess, 'host' | 'port' | 'fingerprint'>,
  at: { host?: string; siteCa?: string } = {},
): string[] {
  const pin = at.siteCa ? ['--site-ca', at.siteCa] : ['--fingerprint', proc.fingerprint];
  return ['--site', `${at.host ?? proc.host}:${proc.port}`, ...pin];
}

/** A client of the site signing in as the /login `admin` that startTestAppliance made. */
export function siteSignIn(
  proc: Pick<ApplianceProcess, 'host' | 'port' | 'fingerprint'>,
  at: { host?: string; siteCa?: string } = {},
): CliSignIn {
  return {
    args: [...siteArgs(proc, at), '--user', 'admin'],
    env: { GATEHOUSE_PASSWORD: LOGIN_PASSWORD },
  };
}
