import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { GATEHOUSE_BIN } from '../../src/lab/processes.js';

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
