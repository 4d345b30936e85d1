/**
 * The site the relay benchmark measures, and its anchors' processes: one appliance, a target
 * (bench/relay-target.ts: an echo and a sink), a Jump Client (`gatehouse jump-client`) and a
 * console in the benchmark process; `ssh -L` through a throwaway sshd; the bare Node TLS pipe
 * (bench/relay-anchor.ts with its bare Jump Client, bench/relay-anchor-jump.ts).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { RepresentativeConsole } from '../src/clients/console.js';
import {
  GATEHOUSE_BIN,
  freePort,
  initApplianceProcess,
  startApplianceProcess,
  type ApplianceProcess,
} from '../src/lab/processes.js';
import { until } from '../src/shared/until.js';
import { workerOf } from './relay-proc.js';
import { startSshd } from './sshd.js';
import { ServerProcess, type Cleanup } from './support.js';

export const HOST = '127.0.0.1';
export const JUMP = 'bench-jump';
export const ADMIN_PASSWORD = 'Gatekeeper-Pass-1';
export const LOGIN_PASSWORD = 'Site-Operator-Pw-2';
const OPEN_CONCURRENCY = 64;
const TARGET_SCRIPT = fileURLToPath(new URL('./relay-target.js', import.meta.url));
const ANCHOR_SCRIPT = fileURLToPath(new URL('./relay-anchor.js', import.meta.url));
const ANCHOR_JUMP_SCRIPT = fileURLToPath(new URL('./relay-anchor-jump.js', import.meta.url));

export const progress = (line: string) => console.error(`[bench relay] ${line}`);
export const since = (t0: number) => performance.now() - t0;

export type Target = 'echo' | 'sink';
/** Opens a connection to a target through one of the paths measured. */
export type Opener = (target: Target) => Promise<Duplex>;

/** Wait for `pattern` in a server's output. */
export const outputMatch = (proc: ServerProcess, pattern: RegExp, what: string) =>
  until(
    () => {
      if (!proc.running) throw new Error(`${proc.label} exited:\n${proc.lastOutput}`);
      return pattern.exec(proc.lastOutput);
    },
    15_000,
    what,
  );

export interface Setup {
  root: string;
  /** Processes on the session's way besides this one (for their CPU time). */
  pids: { worker: number; jumpClient: number; target: number };
  dataDir: string;
  port: number;
  appliance: ApplianceProcess;
  rep: RepresentativeConsole;
  targets: Record<Target, string>;
}

export async function startSite(
  cleanup: Cleanup,
  root: string,
  nodeArgs: string[] = [],
): Promise<Setup> {
  const dataDir = path.join(root, 'appliance');
  await initApplianceProcess({
    dataDir,
    name: 'relay-bench',
    host: HOST,
    adminPassword: ADMIN_PASSWORD,
    loginPassword: LOGIN_PASSWORD,
  });
  const port = await freePort(HOST);
  const appliance = await startAppliance(cleanup, dataDir, port, nodeArgs);
  const target = new ServerProcess('relay target', [TARGET_SCRIPT]);
  cleanup.add(() => target.stop());
  const ports = await outputMatch(target, /echo=(\d+) sink=(\d+)/, 'the target to listen');
  const targets = { echo: `${HOST}:${ports[1]}`, sink: `${HOST}:${ports[2]}` };

  const api = appliance.client();
  await api.signIn('login', 'admin', LOGIN_PASSWORD);
  const token = (
    await api.call<{ token: string }>('POST', '/api/login/jump-clients/tokens', {
      json: { uses: 1, name: JUMP },
    })
  ).body.token;
  await api.close();
  const jump = new ServerProcess(
    'gatehouse jump-client',
    [
      GATEHOUSE_BIN,
      'jump-client',
      '--site',
      `${HOST}:${port}`,
      '--fingerprint',
      appliance.fingerprint,
      '--name',
      JUMP,
      '--allow',
      targets.echo,
      '--allow',
      targets.sink,
      '--identity',
      path.join(root, 'jump-client.json'),
    ],
    { ...process.env, GATEHOUSE_JUMP_CLIENT_TOKEN: token },
  );
  cleanup.add(() => jump.stop());
  const site = { host: HOST, port, fingerprint: appliance.fingerprint };
  const rep = await RepresentativeConsole.signIn(site, 'admin', LOGIN_PASSWORD);
  cleanup.add(() => rep.close());
  await jumpClientConnected(rep);
  const worker = await until(() => workerOf(appliance.child.pid!), 5_000, 'the worker');
  const pids = { worker, jumpClient: jump.child.pid!, target: target.child.pid! };
  return { root, pids, dataDir, port, appliance, rep, targets };
}

/**
 * Start the site's appliance again (stopped cleanly first, so a profiling worker writes its
 * profile), with `nodeArgs` for Node in its processes (a profile, the no-recording hook).
 */
export async function restartAppliance(
  cleanup: Cleanup,
  setup: Setup,
  nodeArgs: string[] = [],
): Promise<void> {
  await setup.appliance.stop(60_000);
  setup.appliance = await startAppliance(cleanup, setup.dataDir, setup.port, nodeArgs);
  await jumpClientConnected(setup.rep);
  setup.pids.worker = await until(() => workerOf(setup.appliance.child.pid!), 5_000, 'the worker');
}

async function startAppliance(
  cleanup: Cleanup,
  dataDir: string,
  port: number,
  nodeArgs: string[] = [],
) {
  const appliance = await startApplianceProcess(dataDir, {
    host: HOST,
    port,
    logLevel: 'warn',
    nodeArgs,
    readyTimeoutMs: 60_000,
  });
  cleanup.add(() => appliance.kill());
  return appliance;
}

export const jumpClientConnected = (rep: RepresentativeConsole) =>
  until(
    async () => (await rep.jumpClients()).some((j) => j.name === JUMP),
    60_000,
    'the Jump Client to connect',
    100,
  );

/** Until the appliance has no live session (each round's recording is finished before the next). */
export async function noLiveSessions(rep: RepresentativeConsole): Promise<void> {
  await until(
    async () => (await rep.jumpClients()).find((j) => j.name === JUMP)?.sessions === 0,
    60_000,
    'the sessions to end',
    50,
  );
}

export function connectTcp(hostPort: string): Promise<net.Socket> {
  const i = hostPort.lastIndexOf(':');
  const socket = net.connect({
    host: hostPort.slice(0, i),
    port: Number(hostPort.slice(i + 1)),
    noDelay: true,
  });
  return once(socket, 'connect').then(() => socket);
}

/**
 * `ssh -N -L` forwarding a local port to each target through the throwaway sshd; `sshd` is the
 * listener's pid (the connection's own sshd processes are its descendants), `client` the ssh's.
 */
export async function startSshForward(
  cleanup: Cleanup,
  setup: Setup,
): Promise<{ forwarded: Record<Target, string>; sshd: number; client: number }> {
  const dir = path.join(setup.root, 'ssh');
  const ssh = (await startSshd(dir, cleanup)).split(' ');
  const local = { echo: await freePort(HOST), sink: await freePort(HOST) };
  const child = spawn(
    ssh[0]!,
    [
      ...ssh.slice(1),
      '-N',
      '-o',
      'ExitOnForwardFailure=yes',
      '-L',
      `${HOST}:${local.echo}:${setup.targets.echo}`,
      '-L',
      `${HOST}:${local.sink}:${setup.targets.sink}`,
      HOST,
    ],
    { stdio: 'ignore' },
  );
  cleanup.add(() => child.kill('SIGTERM'));
  const forwarded = { echo: `${HOST}:${local.echo}`, sink: `${HOST}:${local.sink}` };
  await until(
    async () => {
      const s = await connectTcp(forwarded.sink);
      s.destroy();
      return true;
    },
    15_000,
    'ssh -L to listen',
    100,
  );
  const sshd = Number(readFileSync(path.join(dir, 'sshd.pid'), 'utf8').trim());
  return { forwarded, sshd, client: child.pid! };
}

/** The bare Node TLS pipe and its bare Jump Client to the site's targets. */
export interface BarePipe {
  /** The relaying process. */
  pid: number;
  /** Where it listens (a console names its target by the TLS server name `console.TARGET`). */
  port: number;
  /** The bare Jump Client's process. */
  jumpPid: number;
  open: Opener;
  /** A TLS connection paired with another such one (idle pairs, no Jump Client). */
  connect: () => Promise<tls.TLSSocket>;
}

/**
 * The bare pipe, or with `recordDir` the second anchor: the bare pipe that also records what it
 * relays (hashed and appended to a file in `recordDir`, removed once durable).
 */
export async function startBarePipe(
  cleanup: Cleanup,
  setup: Setup,
  recordDir?: string,
): Promise<BarePipe> {
  const port = await freePort(HOST);
  if (recordDir) mkdirSync(recordDir, { recursive: true });
  const anchor = new ServerProcess(
    recordDir ? 'recording TLS relay' : 'bare TLS relay',
    [ANCHOR_SCRIPT],
    {
      ...process.env,
      ANCHOR_LISTEN: `${HOST}:${port}`,
      ANCHOR_TLS_KEY: path.join(setup.dataDir, 'tls', 'key.pem'),
      ANCHOR_TLS_CERT: path.join(setup.dataDir, 'tls', 'cert.pem'),
      ...(recordDir ? { ANCHOR_RECORD_DIR: recordDir } : {}),
    },
  );
  cleanup.add(() => anchor.stop());
  await outputMatch(anchor, /listening/, 'the anchor to listen');
  const jump = new ServerProcess('bare Jump Client', [ANCHOR_JUMP_SCRIPT], {
    ...process.env,
    ANCHOR_CONNECT: `${HOST}:${port}`,
    ANCHOR_TARGETS: `echo=${setup.targets.echo},sink=${setup.targets.sink}`,
  });
  cleanup.add(() => jump.stop());
  await outputMatch(jump, /ready/, 'the bare Jump Client');
  const connect = async (servername?: string) => {
    const s = tls.connect({ host: HOST, port, rejectUnauthorized: false, servername });
    s.setNoDelay(true);
    s.on('error', () => undefined);
    await once(s, 'secureConnect');
    return s;
  };
  return {
    pid: anchor.child.pid!,
    port,
    jumpPid: jump.child.pid!,
    open: (t) => connect(`console.${t}`),
    connect: () => connect(),
  };
}

/** Open `n` connections (64 at a time), with progress. */
export async function openMany<T>(n: number, what: string, open: () => Promise<T>): Promise<T[]> {
  const opened: T[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(n, OPEN_CONCURRENCY) }, async () => {
      while (next < n) {
        next++;
        opened.push(await open());
        if (opened.length % 2_000 === 0)
          progress(`${what}: ${opened.length} of ${n} (${(since(t0) / 1000).toFixed(0)} s)`);
      }
    }),
  );
  return opened;
}
