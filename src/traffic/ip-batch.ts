import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A line `ip` fails on purpose after each command: its "Command failed -:N" on stderr (which
 * ip does not buffer) says every line up to N has run. A device name longer than the kernel's
 * 15 characters, so it can never exist.
 */
const SYNC = 'link show dev gatehouse-ip-batch-sync';
const FAILED = /^Command failed -:(\d+)$/;

interface Pending {
  /** The command's line and its sync line in ip's numbering. */
  line: number;
  sync: number;
  error?: string;
  timer: NodeJS.Timeout;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * One long-lived `ip -force -batch -` that runs `ip` commands read from its stdin, one after
 * the other, in this process's network namespace: moving a shared address then costs a netlink
 * round trip (about 2 ms), not a process started per change (10–25 ms on a quiet host, 80–160 ms
 * under load, measured by `npm run bench -- network`). ip is restarted when it ended, and ends
 * with this process (its stdin closes).
 */
export class IpBatch {
  private child: ChildProcess | undefined;
  private lines = 0;
  private pending: Pending[] = [];
  private stderr = '';
  private message: string[] = [];

  /**
   * Run `ip ARGS…`; rejects with an Error carrying ip's `stderr` when it fails, or `code`
   * ENOENT when ip is not installed (as execFile's errors do).
   */
  run(args: string[], timeoutMs = 10_000): Promise<void> {
    // ip splits a batch line on blanks: an argument with one would run another command.
    if (args.some((a) => a === '' || /\s/.test(a)))
      return Promise.reject(new Error(`not an ip argument: ${JSON.stringify(args)}`));
    const child = this.child ?? this.start();
    return new Promise((resolve, reject) => {
      const line = this.lines + 1;
      const entry: Pending = { line, sync: line + 1, resolve, reject, timer: undefined! };
      entry.timer = setTimeout(
        () => this.fail(new Error(`ip did not answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.lines += 2;
      this.pending.push(entry);
      child.stdin!.write(`${args.join(' ')}\n${SYNC}\n`);
    });
  }

  /** Start ip ahead of the first command, so that that command does not wait for it. */
  ready(): void {
    if (!this.child) this.start();
  }

  private start(): ChildProcess {
    const child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child = child;
    this.lines = 0;
    this.stderr = '';
    this.message = [];
    child.stdin!.on('error', () => undefined);
    child.stderr!.on('data', (d: Buffer) => this.read(d.toString()));
    child.once('error', (e) => this.fail(e, child));
    child.once('exit', (code, signal) =>
      this.fail(new Error(`ip ended (${signal ?? code})`), child),
    );
    // A process that is otherwise done may exit: ip then reads the end of its input and ends.
    child.unref();
    for (const s of [child.stdin, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    return child;
  }

  private read(text: string): void {
    this.stderr += text;
    let nl;
    while ((nl = this.stderr.indexOf('\n')) >= 0) {
      const l = this.stderr.slice(0, nl);
      this.stderr = this.stderr.slice(nl + 1);
      const failed = FAILED.exec(l);
      if (!failed) {
        this.message.push(l);
        continue;
      }
      this.settle(Number(failed[1]), this.message.join('\n'));
      this.message = [];
    }
  }

  /** Line `n` failed with `message`: a command's own error, or its sync line (it has run). */
  private settle(n: number, message: string): void {
    const i = this.pending.findIndex((p) => p.line === n || p.sync === n);
    const p = this.pending[i];
    if (!p) return;
    if (p.line === n) {
      p.error = message;
      return;
    }
    this.pending.splice(i, 1);
    clearTimeout(p.timer);
    if (p.error === undefined) p.resolve();
    else p.reject(Object.assign(new Error(p.error), { stderr: p.error }));
  }

  /**
   * ip (`child`, else the one running) failed or ended: every command waiting fails with `e`,
   * and the next starts ip again. An ip replaced already changes nothing.
   */
  private fail(e: Error, child = this.child): void {
    if (!child || child !== this.child) return;
    this.child = undefined;
    if (child && child.exitCode === null) child.kill();
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(e);
    }
  }
}
