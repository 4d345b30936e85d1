/**
 * A throwaway OpenSSH server for the anchors of the benchmarks (rsync over SSH, `ssh -L`): on a
 * free loopback port, as the current user, with keys of its own; stopped by the cleanup.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../src/lab/processes.js';
import { until } from '../src/shared/until.js';
import type { Cleanup } from './support.js';

/** sshd on a free loopback port as the current user, and the `-e` command rsync uses. */
export async function startSshd(dir: string, cleanup: Cleanup): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort('127.0.0.1');
  const hostKey = path.join(dir, 'host_key');
  const userKey = path.join(dir, 'user_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey]);
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${userKey}.pub`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: 'ignore' });
  cleanup.add(() => sshd.kill('SIGTERM'));
  const ssh = `ssh -p ${port} -i ${userKey} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`;
  await until(
    () => spawnSync('sh', ['-c', `${ssh} 127.0.0.1 true`], { stdio: 'ignore' }).status === 0,
    10_000,
    'sshd to accept the bench key',
  );
  return ssh;
}
