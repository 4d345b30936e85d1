import { execFile } from 'node:child_process';
import { isIPv4, isIPv6 } from 'node:net';
import { ARPING_MISSING, armArping, startArping } from './arping.js';
import { IpBatch } from './ip-batch.js';
import { trafficError, type SharedIpConfig, type TrafficSwitchProvider } from './switch-config.js';
import { trafficErrors } from './error-codes.js';

export interface SharedAddress {
  address: string;
  /** Prefix length of the address on the device (32 for a single IPv4 address). */
  prefixLength: number;
  /** Network device, e.g. eth0. */
  device: string;
}

/** On Linux the whole of 127.0.0.0/8 and ::1 are on `lo` already: binding them just works. */
export function isLoopback(address: string): boolean {
  return (isIPv4(address) && address.startsWith('127.')) || (isIPv6(address) && address === '::1');
}

/** This process's `ip`: shared addresses move without starting a process each time. */
const ip = new IpBatch();

function commandError(what: string, file: string, err: unknown) {
  const e = err as NodeJS.ErrnoException & { stderr?: string };
  const stderr = (e.stderr ?? '').trim();
  if (e.code === 'ENOENT')
    return trafficError(
      trafficErrors.TRAFFIC_SHARED_IP_TOOL_MISSING,
      `${file} is not installed; install ${file === 'arping' ? 'iputils-arping' : 'iproute2'} to ${what}.`,
      { cause: err },
    );
  if (/not permitted|permission denied/i.test(stderr) || e.code === 'EACCES')
    return trafficError(
      trafficErrors.TRAFFIC_SHARED_IP_NOT_PERMITTED,
      `Not permitted to ${what} (${stderr || e.code}); run the appliance as root or give it CAP_NET_ADMIN and CAP_NET_RAW.`,
      { cause: err },
    );
  return trafficError(
    trafficErrors.TRAFFIC_SHARED_IP_FAILED,
    `Could not ${what}: ${(stderr || e.message).replace(/\.$/, '')}.`,
    {
      field: 'device',
      cause: err,
    },
  );
}

/** How long arping may take to fail at start (no device, no permission) before it counts as sending. */
const ARPING_START_MS = 250;

/** arping's arguments for the shared address: unsolicited (gratuitous) ARP, three times. */
const arpingArgs = (addr: SharedAddress) => ['-U', '-c', '3', '-I', addr.device, addr.address];

/**
 * Have the move of the shared address ready where this appliance may take it next: `ip`
 * running and an arping waiting for its word (./arping.ts), so that the move starts no process.
 */
export function readyToAnnounce(addr: SharedAddress): void {
  if (isLoopback(addr.address)) return;
  ip.ready();
  if (isIPv4(addr.address)) armArping(arpingArgs(addr));
}

/**
 * Gratuitous ARP, sent at once and repeated twice a second apart (a lost one would leave a
 * neighbour on the old appliance until its entry expired; iputils' arping takes whole seconds
 * between packets). `started` resolves once arping runs
 * (its first announcement goes out at once); `done` when it has sent them all, or rejects with
 * the reason it could not (no device, no permission).
 */
function arping(addr: SharedAddress): { started: Promise<void>; done: Promise<void> } {
  const what = `announce ${addr.address} by gratuitous ARP on ${addr.device} (the address is assigned; neighbours learn it when their ARP entries expire)`;
  const { child, armed } = startArping(arpingArgs(addr));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const started = new Promise<void>((resolve, reject) => {
    if (armed) return resolve();
    child.once('spawn', () => resolve());
    child.once('error', (err) => reject(commandError(what, 'arping', err)));
  });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(commandError(what, 'arping', err)));
    child.once('exit', (code) => {
      if (code === 0) return resolve();
      // The waiting shell could not run arping: as a missing arping started directly.
      const missing = armed && code === ARPING_MISSING ? { code: 'ENOENT' } : {};
      reject(commandError(what, 'arping', Object.assign(new Error(stderr), { stderr }, missing)));
    });
  });
  // A caller that only waits for the start hears of a later failure through `done`.
  done.catch(() => undefined);
  return { started, done };
}

/**
 * Announce the shared address (IPv4; for IPv6 the kernel sends unsolicited neighbour
 * advertisements for a new address itself). Resolves as soon as the first announcement is out;
 * `failed` hears why, if arping then fails.
 */
export async function announceSharedAddress(
  addr: SharedAddress,
  failed: (e: Error) => void,
): Promise<void> {
  if (isLoopback(addr.address) || !isIPv4(addr.address)) return;
  const a = arping(addr);
  await a.started;
  a.done.catch(failed);
}

/**
 * Put the shared address on the device (`ip addr add`), not yet announced: an appliance binds
 * its listener on it first, then announces it, so the first client that follows the
 * announcement finds it listening. Returns whether anything was configured.
 */
export async function addSharedAddress(addr: SharedAddress): Promise<boolean> {
  if (isLoopback(addr.address)) return false;
  const cidr = `${addr.address}/${addr.prefixLength}`;
  try {
    await ip.run(['addr', 'add', cidr, 'dev', addr.device]);
  } catch (e) {
    // Already here (e.g. a second Become Primary): the end state is what was asked.
    if (!/File exists|already assigned/i.test((e as { stderr?: string }).stderr ?? ''))
      throw commandError(`add ${cidr} to ${addr.device}`, 'ip', e);
  }
  return true;
}

/**
 * Take the shared address on this machine (S19): `ip addr add`, then gratuitous ARP so that
 * neighbours forget the other appliance's MAC at once, waiting long enough for arping to have
 * failed at start if it does (the CLI reports it). Nothing to do for a loopback address.
 * Returns whether anything was configured.
 */
export async function assignSharedAddress(addr: SharedAddress): Promise<boolean> {
  if (!(await addSharedAddress(addr))) return false;
  if (!isIPv4(addr.address)) return true;
  const a = arping(addr);
  await a.started;
  await Promise.race([a.done, new Promise((r) => setTimeout(r, ARPING_START_MS).unref())]);
  return true;
}

/** Give the shared address up on this machine; not an error when it is not here. */
export async function releaseSharedAddress(addr: SharedAddress): Promise<boolean> {
  if (isLoopback(addr.address)) return false;
  const cidr = `${addr.address}/${addr.prefixLength}`;
  try {
    await ip.run(['addr', 'del', cidr, 'dev', addr.device]);
  } catch (e) {
    if (
      /Cannot assign requested address|Address not found/i.test(
        (e as { stderr?: string }).stderr ?? '',
      )
    )
      return false;
    throw commandError(`remove ${cidr} from ${addr.device}`, 'ip', e);
  }
  return true;
}

/** Whether the shared address is configured on the device here (always true for loopback). */
export async function holdsSharedAddress(addr: SharedAddress): Promise<boolean> {
  if (isLoopback(addr.address)) return true;
  return new Promise((resolve, reject) =>
    execFile('ip', ['-o', 'addr', 'show', 'dev', addr.device], (err, stdout) => {
      if (err) return reject(commandError(`list the addresses of ${addr.device}`, 'ip', err));
      resolve(stdout.split(/\s+/).some((w) => w.split('/')[0] === addr.address));
    }),
  );
}

/**
 * The shared-IP method as a provider: each appliance runs it with its own name; pointing at
 * this appliance takes the shared address here, pointing at another releases it here (the
 * other appliance takes it when it runs its own pointAt). The appliance's listener on the
 * address is bound by the appliance itself.
 */
export class SharedIpProvider implements TrafficSwitchProvider {
  readonly method = 'shared-ip' as const;
  private pointedAt: string | undefined;

  constructor(private readonly config: SharedIpConfig) {}

  describe(): string {
    const c = this.config;
    return `Shared IP ${c.address}/${c.prefixLength} on ${isLoopback(c.address) ? 'loopback' : c.device} (this appliance: ${c.localName})`;
  }

  async pointAt(target: { name: string; address: string }): Promise<void> {
    if (target.name === this.config.localName) await assignSharedAddress(this.config);
    else await releaseSharedAddress(this.config);
    this.pointedAt = target.address;
  }

  /** This appliance's address when it holds the shared address; undefined when it does not. */
  async current(): Promise<{ address: string } | undefined> {
    if (isLoopback(this.config.address))
      return this.pointedAt ? { address: this.pointedAt } : undefined;
    return (await holdsSharedAddress(this.config))
      ? { address: this.pointedAt ?? this.config.address }
      : undefined;
  }
}
