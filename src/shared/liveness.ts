import { readFileSync } from 'node:fs';

/** State letter and process group of a process, from /proc (Linux); undefined when not found. */
export function procStat(pid: number | string): { state: string; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid pgrp …: comm may hold spaces, so read after its closing paren.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state!, pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/**
 * Whether a process runs. A zombie does not: it holds no file, port or lock, it only waits to
 * be reaped, and where nothing reaps orphans promptly (a container's init) it waits seconds or
 * for ever. So a SIGKILLed appliance's worker no longer holds its data directory's lock.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const s = procStat(pid);
  return s === undefined || (s.state !== 'Z' && s.state !== 'X');
}
