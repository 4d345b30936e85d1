import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { trafficError, type CommandConfig, type TrafficSwitchProvider } from '../switch-config.js';
import { trafficErrors } from '../error-codes.js';

const TAIL = 2_000;

function tail(text: string): string {
  const t = text.trim();
  return t.length > TAIL ? `…${t.slice(-TAIL)}` : t;
}

/**
 * NAT swing through an administrator's command (S19): the program that knows the site's real
 * firewall is run without a shell, with the target in its environment. Its exit status is the
 * answer; its stderr is shown when it fails.
 */
export class CommandProvider implements TrafficSwitchProvider {
  readonly method = 'nat' as const;

  constructor(private readonly config: CommandConfig) {}

  describe(): string {
    return `NAT swing by running ${this.config.argv.join(' ')}`;
  }

  async pointAt(target: { name: string; address: string; port?: number }): Promise<void> {
    await this.run('argv', this.config.argv, {
      GATEHOUSE_TARGET_NAME: target.name,
      GATEHOUSE_TARGET_ADDRESS: target.address,
      GATEHOUSE_TARGET_PORT: target.port === undefined ? '' : String(target.port),
    });
  }

  async current(): Promise<{ address: string } | undefined> {
    if (!this.config.currentArgv) return undefined;
    const out = await this.run('currentArgv', this.config.currentArgv, {});
    const address = out.split('\n')[0]?.trim() ?? '';
    if (!address) return undefined;
    if (isIP(address) === 0)
      throw trafficError(
        trafficErrors.TRAFFIC_COMMAND_BAD_OUTPUT,
        `currentArgv: ${this.config.currentArgv[0]} printed "${address.slice(0, 80)}", not an IP address; make its first line of output the address traffic goes to now.`,
        { field: 'currentArgv' },
      );
    return { address };
  }

  private run(field: string, argv: string[], env: Record<string, string>): Promise<string> {
    const [file, ...args] = argv as [string, ...string[]];
    const { timeoutMs } = this.config;
    return new Promise((resolve, reject) => {
      execFile(
        file,
        args,
        {
          env: { ...process.env, ...env },
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 1 << 20,
        },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
          const detail = tail(stderr) ? `: ${tail(stderr)}` : '';
          if (e.code === 'ENOENT' || e.code === 'EACCES')
            return reject(
              trafficError(
                trafficErrors.TRAFFIC_COMMAND_NOT_RUNNABLE,
                `${field}: ${file} cannot be run (${e.code}); give the full path of an executable program.`,
                { field, cause: err },
              ),
            );
          if (e.killed)
            return reject(
              trafficError(
                trafficErrors.TRAFFIC_COMMAND_TIMED_OUT,
                `${field}: ${file} did not finish within ${timeoutMs} ms and was stopped; make it faster or raise timeoutMs${detail}`,
                { field, cause: err },
              ),
            );
          reject(
            trafficError(
              trafficErrors.TRAFFIC_COMMAND_FAILED,
              `${field}: ${file} exited with ${typeof e.code === 'number' ? `status ${e.code}` : `signal ${(err as { signal?: string }).signal}`}; the traffic switch did not happen${detail || ' (it printed nothing on stderr)'}`,
              { field, cause: err },
            ),
          );
        },
      );
    });
  }
}
