import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A line `ip` fails on purpose after each command: its "Command failed -:N" on stderr (which
 * ip does not buffer) says every line up to N has run. A device name longer than the kernel's
 * 15 characters, so it can never exist.
 */
const SYNC = 'link show dev gatehouse-ip-batch-sync';
const FAILED = /^Command failed -:(\d+)$/;
/**
 * What ip's batch reader takes for syntax, not an argument: blanks split, `#` starts a comment,
 * quotes group, a trailing `\` joins the next line. Any of them would run another command.
 */
const NOT_AN_ARGUMENT = /[\s#"'\\]/;

interface Pending {
  args: string;
  /** The command's line and its sync line in its ip's numbering. */
  line: number;
  sync: number;
  error?: string;
  timer: NodeJS.Timeout;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * One ip process and what only it may settle: its own line numbering, stderr and commands.
 * Output that an ended ip still delivers (Node may report its exit before its stderr is read)
 * can then only reach its own commands, never those sent to the ip started after it.
 */
interface Batch {
  child: ChildProcess;
  lines: number;
  pending: Pending[];
  stderr: string;
  message: string[];
  ended: boolean;
}

/**
 * One long-lived `ip -force -batch -` that runs `ip` commands read from its stdin, one after
 * the other, in this process's network namespace: moving a shared address then costs a netlink
 * round trip (about 2 ms), not a process started per change (10–25 ms on a quiet host, 80–160 ms
 * under load, measured by `npm run bench -- network`). ip is restarted when it ended, and ends
 * with this process (its stdin closes).
 */
export class IpBatch {
  private batch: Batch | undefined;

  /**
   * Run `ip ARGS…`; rejects with an Error carrying ip's `stderr` when it fails, or `code`
   * ENOENT when ip is not installed (as execFile's errors do).
   */
  run(args: string[], timeoutMs = 10_000): Promise<void> {
    const bad = args.find((a) => a === '' || NOT_AN_ARGUMENT.test(a));
    if (bad !== undefined)
      return Promise.reject(
        new Error(
          `not an ip argument: ${JSON.stringify(bad)} (blanks, #, quotes and backslashes are ip -batch syntax)`,
        ),
      );
    const b = this.batch ?? this.start();
    return new Promise((resolve, reject) => {
      const line = b.lines + 1;
      const entry: Pending = {
        args: args.join(' '),
        line,
        sync: line + 1,
        resolve,
        reject,
        timer: setTimeout(() => this.fail(b, `ip did not answer in ${timeoutMs} ms`), timeoutMs),
      };
      b.lines += 2;
      b.pending.push(entry);
      b.child.stdin!.write(`${entry.args}\n${SYNC}\n`);
    });
  }

  /** Start ip ahead of the first command, so that that command does not wait for it. */
  ready(): void {
    if (!this.batch) this.start();
  }

  private start(): Batch {
    const child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    const b: Batch = { child, lines: 0, pending: [], stderr: '', message: [], ended: false };
    this.batch = b;
    child.stdin!.on('error', () => undefined);
    child.stderr!.on('data', (d: Buffer) => this.read(b, d.toString()));
    child.once('error', (e) => this.fail(b, e.message, e));
    // 'close', not 'exit': the error that made ip end is on stderr, read by then.
    child.once('close', (code, signal) => this.fail(b, `ip ended (${signal ?? code})`));
    // A process that is otherwise done may exit: ip then reads the end of its input and ends.
    child.unref();
    for (const s of [child.stdin, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    return b;
  }

  private read(b: Batch, text: string): void {
    b.stderr += text;
    let nl;
    while ((nl = b.stderr.indexOf('\n')) >= 0) {
      const l = b.stderr.slice(0, nl);
      b.stderr = b.stderr.slice(nl + 1);
      const failed = FAILED.exec(l);
      if (!failed) {
        b.message.push(l);
        continue;
      }
      this.settle(b, Number(failed[1]), b.message.join('\n'));
      b.message = [];
    }
  }

  /** Line `n` failed with `message`: a command's own error, or its sync line (it has run). */
  private settle(b: Batch, n: number, message: string): void {
    const i = b.pending.findIndex((p) => p.line === n || p.sync === n);
    const p = b.pending[i];
    if (!p) return;
    if (p.line === n) {
      p.error = message;
      return;
    }
    b.pending.splice(i, 1);
    clearTimeout(p.timer);
    if (p.error === undefined) p.resolve();
    else p.reject(Object.assign(new Error(p.error), { stderr: p.error }));
  }

  /**
   * ip `b` failed or ended (`reason`): the command it was working on fails with what ip said
   * (an error that makes ip exit, such as a prefix it cannot parse, prints no "Command
   * failed"), the commands queued after it fail as not run, and the next command starts ip
   * again.
   */
  private fail(b: Batch, reason: string, cause?: NodeJS.ErrnoException): void {
    if (this.batch === b) this.batch = undefined;
    if (b.ended) return;
    b.ended = true;
    if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill();
    const said = [...b.message, b.stderr].join('\n').trim();
    const [head, ...rest] = b.pending.splice(0);
    const settle = (p: Pending, e: Error) => {
      clearTimeout(p.timer);
      p.reject(e);
    };
    if (head) {
      const stderr = [head.error, said].filter(Boolean).join('\n') || reason;
      settle(head, Object.assign(new Error(stderr), cause ?? {}, { stderr: said ? stderr : '' }));
    }
    for (const p of rest)
      settle(
        p,
        new Error(`not run: ip ended on the command before it (ip ${head!.args}: ${reason})`),
      );
  }
}
