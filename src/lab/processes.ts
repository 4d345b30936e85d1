import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { promisify } from 'node:util';
import { ApplianceClient, fingerprintOf } from '../clients/admin-client.js';
import { CODE_ROOT } from '../shared/version.js';
import { until } from '../shared/until.js';
import { groupAlive } from './state.js';

const execFileP = promisify(execFile);

/** The `gatehouse` executable of this code tree. */
export const GATEHOUSE_BIN = path.join(CODE_ROOT, 'bin', 'gatehouse.js');

import { freePort } from '../shared/ports.js';

export { freePort };

export interface ApplianceSpec {
  dataDir: string;
  name: string;
  host?: string;
  hostnames?: string[];
  adminPassword: string;
  loginPassword: string;
  interApplianceKey?: string;
  /** Release public key files (PEM) the appliance trusts for update packages. */
  releaseKeyFiles?: string[];
}

/** Run `gatehouse appliance init` as a real process. */
export async function initApplianceProcess(spec: ApplianceSpec): Promise<void> {
  const args = [
    GATEHOUSE_BIN,
    'appliance',
    'init',
    '--data-dir',
    spec.dataDir,
    '--name',
    spec.name,
    '--address',
    spec.host ?? '127.0.0.1',
  ];
  for (const h of spec.hostnames ?? []) args.push('--hostname', h);
  if (spec.interApplianceKey) args.push('--inter-appliance-key', spec.interApplianceKey);
  for (const k of spec.releaseKeyFiles ?? []) args.push('--release-key', k);
  await execFileP(process.execPath, args, {
    env: {
      ...process.env,
      GATEHOUSE_ADMIN_PASSWORD: spec.adminPassword,
      GATEHOUSE_LOGIN_PASSWORD: spec.loginPassword,
    },
  });
}

/** A running `gatehouse appliance start` process and a client pinned to its certificate. */
export class ApplianceProcess {
  readonly output: string[] = [];
  /** Settles when stdout and stderr have closed: every line the process group wrote is in `output`. */
  readonly outputClosed: Promise<void>;
  private exited: Promise<number | null>;
  exitCode: number | null | undefined;

  constructor(
    readonly dataDir: string,
    readonly host: string,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    // Whole lines of each stream: a chunk may end inside a line or a character.
    const collect = (stream: Readable | null) => {
      const decoder = new StringDecoder('utf8');
      let partial = '';
      stream?.on('data', (d: Buffer) => {
        const lines = (partial + decoder.write(d)).split('\n');
        partial = lines.pop()!;
        this.output.push(...lines.filter(Boolean));
      });
      stream?.on('end', () => {
        const rest = partial + decoder.end();
        partial = '';
        if (rest) this.output.push(rest);
      });
    };
    collect(child.stdout);
    collect(child.stderr);
    this.outputClosed = new Promise((resolve) => child.once('close', () => resolve()));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  get url(): string {
    return `https://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  get certPem(): string {
    return readFileSync(path.join(this.dataDir, 'tls', 'cert.pem'), 'utf8');
  }

  get fingerprint(): string {
    return fingerprintOf(this.certPem);
  }

  client(opts: { connections?: number; localAddress?: string } = {}): ApplianceClient {
    return new ApplianceClient(this.url, { certPem: this.certPem }, opts);
  }

  /** SIGTERM and wait for a clean exit; returns the exit code. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.kill('SIGTERM');
    return this.waitExit(timeoutMs);
  }

  /** SIGKILL of the whole appliance (supervisor and worker): the power-cut case. */
  async kill(): Promise<void> {
    if (this.exitCode !== undefined) return;
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
    await this.waitExit(10_000);
    // The worker may outlive the supervisor by a moment; wait until the group is gone (zombies
    // left to a slow init count as gone: they hold no port, file or lock).
    await until(
      () => !groupAlive(this.child.pid!),
      10_000,
      `appliance ${this.dataDir} processes to exit`,
    );
  }

  async waitExit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`appliance ${this.dataDir} did not exit within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

type StartOptions = {
  host?: string;
  port?: number;
  readyTimeoutMs?: number;
  logLevel?: string;
  /** Options of Node for the supervisor, which its worker inherits (a benchmark's profile). */
  nodeArgs?: string[];
  /** Variables added to this process's environment (e.g. GATEHOUSE_RESUME_WINDOW_MS). */
  env?: Record<string, string>;
};

/**
 * Start `gatehouse <command> start` as a real process in its own process group (a supervisor
 * and its worker stop, or crash, together) and wait with a deadline until `ready` says so.
 */
async function startServer<P extends ApplianceProcess>(
  what: string,
  command: 'appliance' | 'update-server',
  dataDir: string,
  opts: StartOptions,
  make: (host: string, port: number, child: ChildProcess) => P,
  ready: (health: { ready?: boolean; ok?: boolean }) => boolean,
): Promise<P> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      GATEHOUSE_BIN,
      command,
      'start',
      '--data-dir',
      dataDir,
      '--listen',
      `${host.includes(':') ? `[${host}]` : host}:${port}`,
      '--log-level',
      opts.logLevel ?? 'info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...opts.env } },
  );
  const proc = make(host, port, child);
  const client = proc.client();
  try {
    const state = await until(
      async () => {
        if (proc.exitCode !== undefined) return 'exited';
        const res = await client.call<{ ready?: boolean; ok?: boolean }>('GET', '/health');
        return res.status === 200 && ready(res.body) ? 'ready' : false;
      },
      opts.readyTimeoutMs ?? 20_000,
      `${what} ${dataDir} to be healthy`,
    );
    if (state === 'exited')
      throw new Error(
        `${what} ${dataDir} exited with code ${proc.exitCode}:\n${proc.output.slice(-10).join('\n')}`,
      );
  } catch (e) {
    await proc.kill();
    throw e;
  } finally {
    await client.close();
  }
  return proc;
}

/** Start an appliance (its supervisor and worker) and wait until /health says ready. */
export function startApplianceProcess(
  dataDir: string,
  opts: StartOptions = {},
): Promise<ApplianceProcess> {
  return startServer(
    'appliance',
    'appliance',
    dataDir,
    opts,
    (host, port, child) => new ApplianceProcess(dataDir, host, port, child),
    (h) => h.ready === true,
  );
}

/**
 * A running `gatehouse update-server start` process. Its data directory has the same tls/ layout
 * as an appliance's, so the certificate, the pinned client and stop/kill are the appliance's.
 */
export class UpdateServerProcess extends ApplianceProcess {}

/** Start an update server as a real process and wait until /health answers. */
export function startUpdateServerProcess(
  dataDir: string,
  opts: StartOptions = {},
): Promise<UpdateServerProcess> {
  return startServer(
    'update server',
    'update-server',
    dataDir,
    opts,
    (host, port, child) => new UpdateServerProcess(dataDir, host, port, child),
    (h) => h.ok === true,
  );
}
