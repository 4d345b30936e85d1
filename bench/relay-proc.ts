/**
 * What the relay benchmark reads of other processes in /proc: resident memory, CPU time (the
 * load-robust figure: a process's own utime + stime does not grow with other processes' load),
 * the appliance's worker, and the open-file limit sessions need.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { statFields } from './support.js';

const NOFILE = 262_144;

/** Raise this process's open-file limit (children inherit it); false when not allowed. */
export function raiseFileLimit(): boolean {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${NOFILE}:${NOFILE}`], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

export function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

/** Resident memory of a process, KiB. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

/** User + system CPU seconds of a process (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  // utime and stime are fields 14 and 15 of /proc/PID/stat, 11 and 12 after the state.
  return f ? (Number(f[11]) + Number(f[12])) / 100 : 0;
}

/** Parent of every live process. */
function parents(): Map<number, number> {
  const ppid = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (f) ppid.set(Number(d), Number(f[1]));
  }
  return ppid;
}

/**
 * CPU seconds of a process and its live descendants: sshd serves a connection in processes
 * it forks (and that fork again), all under the listener started here.
 */
export function treeCpuSeconds(root: number): number {
  const ppid = parents();
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = ppid.get(p))
      if (p === root) return true;
    return false;
  };
  let seconds = 0;
  for (const pid of ppid.keys()) if (inTree(pid)) seconds += cpuSeconds(pid);
  return seconds;
}

/** The appliance's worker: the child the supervisor forked (`appliance run`). */
export function workerOf(supervisorPid: number): number | undefined {
  for (const [pid, parent] of parents()) {
    if (parent !== supervisorPid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('run')) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
