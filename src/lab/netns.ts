import { execFile, spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

import type { LabHost, LabNetwork } from './network-plan.js';
import { labErrors } from './error-codes.js';

/** Where `ip netns exec` finds a namespace's own /etc files (resolv.conf). */
export const ETC_NETNS = '/etc/netns';

/** Run a command to completion; its stderr in the error. */
export function sh(file: string, args: string[], timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      reject(
        labErrors.LAB_NETWORK_COMMAND_FAILED(
          `${file} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`,
          { cause: err },
        ),
      );
    });
  });
}

/** `ip -n NS ARGS…`: one command inside a namespace, without entering it. */
export const ipIn = (ns: string, ...args: string[]) => sh('ip', ['-n', ns, ...args]);

/** argv that runs `argv` inside a namespace (`ip netns exec` execs it: same pid). */
export const nsExec = (ns: string, argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv];

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function onPath(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH];
  return dirs.some((d) => {
    try {
      accessSync(path.join(d, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Each tool the netns lab runs, and the Debian package that has it. */
const TOOLS: [tool: string, pkg: string, needed: (sw: string) => boolean][] = [
  ['ip', 'iproute2', () => true],
  ['nft', 'nftables', () => true],
  ['arping', 'iputils-arping', (sw) => sw === 'shared-ip'],
  ['conntrack', 'conntrack', (sw) => sw === 'nat'],
  ['named', 'bind9', (sw) => sw === 'dns'],
  ['tsig-keygen', 'bind9', (sw) => sw === 'dns'],
];

/**
 * Refuse, before anything is created, what cannot work: not Linux, not root, a tool missing.
 * The message names what to install, or the loopback lab that needs none of it.
 */
export function checkNetnsPrerequisites(switchMethod: string): void {
  const fix = 'or run the lab without namespaces: --network loopback';
  if (process.platform !== 'linux')
    throw prerequisite(`--network netns needs Linux network namespaces; ${fix}.`);
  if (process.getuid?.() !== 0)
    throw prerequisite(
      `--network netns creates network namespaces, which needs root; run it as root (sudo), ${fix}.`,
    );
  const missing = TOOLS.filter(([tool, , needed]) => needed(switchMethod) && !onPath(tool));
  if (missing.length) {
    const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
    throw prerequisite(
      `--network netns needs ${missing.map(([t]) => t).join(', ')}: install the Debian package(s) ${pkgs.join(' ')} (apt-get install ${pkgs.join(' ')}, or scripts/install-test-deps.sh), ${fix}.`,
    );
  }
}

const prerequisite = (message: string) =>
  labErrors.LAB_NETNS_UNAVAILABLE(message, {
    fields: [{ field: '--network', message }],
  });

/** Namespaces that exist now (`ip netns list`), names only. */
export async function listNamespaces(): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

async function addHostLink(net: LabNetwork, h: LabHost): Promise<void> {
  const seg = net.segments.find((s) => s.name === h.segment)!;
  await ipIn(
    net.bridgesNs,
    'link',
    'add',
    h.port,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    h.ns,
  );
  await ipIn(net.bridgesNs, 'link', 'set', h.port, 'master', seg.bridge, 'up');
  await ipIn(h.ns, 'link', 'set', 'lo', 'up');
  await ipIn(h.ns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0');
  await ipIn(h.ns, 'link', 'set', 'eth0', 'up');
  await ipIn(h.ns, 'route', 'add', 'default', 'via', seg.router);
}

/**
 * Create the lab's network: the namespaces (already recorded in lab.json by the caller), one
 * bridge per segment in the bridge namespace, a veth pair per host, the router with a leg on
 * every segment. Everything is made inside the lab's own namespaces (`ip -n`, veth peers
 * created straight into them): the host's namespace never sees a link.
 */
export async function createNetwork(net: LabNetwork): Promise<void> {
  for (const ns of net.namespaces) await sh('ip', ['netns', 'add', ns]);
  await ipIn(net.bridgesNs, 'link', 'set', 'lo', 'up');
  for (const seg of net.segments) {
    await ipIn(net.bridgesNs, 'link', 'add', seg.bridge, 'type', 'bridge');
    await ipIn(net.bridgesNs, 'link', 'set', seg.bridge, 'up');
    const leg = `${seg.routerIface}-rt`;
    await ipIn(
      net.bridgesNs,
      'link',
      'add',
      leg,
      'type',
      'veth',
      'peer',
      'name',
      seg.routerIface,
      'netns',
      net.routerNs,
    );
    await ipIn(net.bridgesNs, 'link', 'set', leg, 'master', seg.bridge, 'up');
    await ipIn(net.routerNs, 'addr', 'add', `${seg.router}/24`, 'dev', seg.routerIface);
    await ipIn(net.routerNs, 'link', 'set', seg.routerIface, 'up');
  }
  await ipIn(net.routerNs, 'link', 'set', 'lo', 'up');
  await sh('ip', nsExec(net.routerNs, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']).slice(1));
  for (const h of net.hosts) await addHostLink(net, h);
}

/** Write /etc/netns/NS/FILE (the caller recorded NS in net.etcDirs first). */
export function writeNetnsEtc(ns: string, file: string, content: string): void {
  const dir = path.join(ETC_NETNS, ns);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(path.join(dir, file), content, { mode: 0o644 });
}

/** Kill whatever still runs in a namespace (only the lab's own namespaces are ever given). */
async function killInside(ns: string): Promise<void> {
  const pids = await sh('ip', ['netns', 'pids', ns]).catch(() => '');
  for (const pid of pids.split(/\s+/).filter(Boolean))
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone already.
    }
}

/**
 * Remove everything `lab up` created: every recorded namespace (its links, bridges, addresses
 * and nftables rules go with it; a veth pair dies with either end), every /etc/netns dir, and
 * any namespace left with the lab's prefix (a crash between creating and recording cannot
 * happen, but a sweep costs nothing). Returns the namespaces removed.
 */
export async function destroyNetwork(
  net: Pick<LabNetwork, 'prefix' | 'namespaces' | 'etcDirs'>,
): Promise<string[]> {
  const present = await listNamespaces();
  const ours = [
    ...new Set([...net.namespaces, ...present.filter((n) => n.startsWith(net.prefix))]),
  ].filter((n) => present.includes(n));
  for (const ns of ours) await killInside(ns);
  for (const ns of ours) await sh('ip', ['netns', 'delete', ns]);
  const etc = existsSync(ETC_NETNS) ? readdirSync(ETC_NETNS) : [];
  for (const ns of new Set([...net.etcDirs, ...etc.filter((n) => n.startsWith(net.prefix))]))
    if (ns.startsWith(net.prefix))
      rmSync(path.join(ETC_NETNS, ns), { recursive: true, force: true });
  return ours;
}

/** Remove every namespace whose name starts with `prefix` (tests sweep their own labs). */
export async function sweepNamespaces(prefix: string): Promise<string[]> {
  if (!/^gh-[0-9a-f]+-$/.test(prefix))
    throw labErrors.LAB_BAD_PREFIX(`${prefix} is not a lab prefix (gh-<id>-).`);
  return destroyNetwork({ prefix, namespaces: [], etcDirs: [] });
}

/**
 * Run ARGV inside a namespace to completion: INPUT on its stdin, each output line to LINE,
 * and on a non-zero exit the error `fail` makes of the code and the error output.
 */
export function runIn(
  ns: string,
  argv: string[],
  opts: {
    input?: string;
    line?: (line: string) => void;
    env?: NodeJS.ProcessEnv;
    fail: (code: number | null, stderr: string) => Error;
  },
): Promise<void> {
  const [file, ...args] = nsExec(ns, argv);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', opts.line ? 'pipe' : 'ignore', 'pipe'],
      env: opts.env ?? process.env,
    });
    if (opts.line) createInterface({ input: child.stdout! }).on('line', opts.line);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(opts.fail(code, stderr.trim()))));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** `nft -f -` inside a namespace: the script is applied whole or not at all. */
export const nftIn = (ns: string, script: string) =>
  runIn(ns, ['nft', '-f', '-'], {
    input: script,
    fail: (_code, stderr) => labErrors.LAB_NETWORK_COMMAND_FAILED(`nft in ${ns} failed: ${stderr}`),
  });
