import { spawn, type ChildProcess } from 'node:child_process';

/**
 * arping processes started ahead of need, each waiting in a shell's `read` for the word to go
 * (keyed by their arguments): an announcement then costs the shell's exec of arping, not a
 * process started by the appliance, whose fork and exec took 50–100 ms on a loaded 2-CPU host
 * (`npm run bench -- network`). A waiting shell ends with the appliance (its stdin closes).
 */
const waiting = new Map<string, ChildProcess>();

/** Exit status of the waiting shell when it cannot run arping (not installed). */
export const ARPING_MISSING = 127;

/** The arguments of the shared address as last armed or announced: the only ones kept waiting. */
let wanted: string | undefined;

/** Only `key` is wanted from now: shells waiting with other arguments (an old device or address) end. */
function want(key: string): void {
  wanted = key;
  for (const [k, child] of waiting)
    if (k !== key) {
      waiting.delete(k);
      child.kill();
    }
}

/** Start an arping with `args` to wait for its word (a later `startArping` sends it). */
export function armArping(args: string[]): void {
  const key = args.join(' ');
  want(key);
  const old = waiting.get(key);
  if (old && old.exitCode === null && old.signalCode === null) return;
  const child = spawn('sh', ['-c', 'read -r go && exec arping "$@"', 'arping', ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  waiting.set(key, child);
  const gone = () => waiting.get(key) === child && waiting.delete(key);
  child.once('error', gone);
  child.once('exit', gone);
  child.stdin!.on('error', () => undefined);
  child.unref();
  for (const s of [child.stdin, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
}

/**
 * arping with `args`, now: the one waiting if there is one (its `spawn` event has passed:
 * `armed` is true), else a new process. Another is armed a second later, off the path of the
 * announcement that follows this one.
 */
export function startArping(args: string[]): { child: ChildProcess; armed: boolean } {
  const key = args.join(' ');
  want(key);
  const ready = waiting.get(key);
  waiting.delete(key);
  // Not if the address or device changed in the meantime: that shell would wait for nothing.
  setTimeout(() => wanted === key && armArping(args), 1_000).unref();
  if (ready && ready.exitCode === null && ready.signalCode === null && ready.pid) {
    ready.stdin!.end('go\n');
    return { child: ready, armed: true };
  }
  return { child: spawn('arping', args, { stdio: ['ignore', 'ignore', 'pipe'] }), armed: false };
}
