import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { fingerprintOf } from '../clients/admin-client.js';

import { freePort } from '../shared/ports.js';
import { GATEHOUSE_BIN, initApplianceProcess } from './processes.js';
import type { PlannedAppliance } from './plan.js';
import { addressOf, nsOf } from './network-plan.js';
import { ADDRESSES, SITE_HOSTNAME } from './plan.js';
import { readLabSecret } from './secrets.js';
import { healthOf, spawnDaemon, waitReady } from './spawn.js';
import { NETNS_PORT } from './up-netns.js';
import { labUrl, type LabAppliance, type LabProcess, type LabState } from './state.js';
import { labErrors } from './error-codes.js';

const execFileP = promisify(execFile);
const READY_MS = 60_000;

/** Run `gatehouse ARGS` to completion; its own error message on failure. */
async function gatehouse(args: string[]): Promise<void> {
  try {
    await execFileP(process.execPath, [GATEHOUSE_BIN, ...args]);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw labErrors.LAB_START_FAILED(
      `gatehouse ${args.slice(0, 2).join(' ')} failed: ${(err.stderr || err.message).trim()}`,
    );
  }
}

/** Run `fn` over `items`, at most `limit` at a time (two cores run the whole lab). */
export async function inBatches<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function startUpdateServer(
  state: LabState,
  started: (p: LabProcess) => void,
): Promise<NonNullable<LabState['updateServer']>> {
  const dataDir = path.join(state.dir, 'update-server');
  const host = addressOf(state.network, 'updates', ADDRESSES.updateServer);
  await gatehouse([
    'update-server',
    'init',
    '--data-dir',
    dataDir,
    '--release-key',
    path.join(state.dir, state.releaseKey.publicKey),
    '--admin-password-file',
    path.join(state.dir, state.credentials.updateServer.passwordFile),
    '--address',
    host,
  ]);
  const port = state.network ? NETNS_PORT : await freePort(host);
  const daemon = spawnDaemon(
    'update-server',
    'update-server',
    ['update-server', 'start', '--data-dir', dataDir, '--listen', `${host}:${port}`],
    path.join(state.dir, 'logs', 'update-server.log'),
    nsOf(state.network, 'updates'),
  );
  started(daemon.proc);
  const url = labUrl(host, port);
  const cert = readFileSync(path.join(dataDir, 'tls', 'cert.pem'), 'utf8');
  await waitReady(
    daemon,
    async () => (await healthOf<{ ok?: boolean }>(url, cert))?.body.ok === true,
    READY_MS,
  );
  return { url, fingerprint: fingerprintOf(cert), dataDir };
}

export async function initAppliances(state: LabState, plan: PlannedAppliance[]): Promise<void> {
  const key = readLabSecret(state.dir, state.interApplianceKeyFile);
  await inBatches(plan, 3, (a) =>
    initApplianceProcess({
      dataDir: path.join(state.dir, 'appliances', a.name),
      name: a.name,
      host: a.host,
      hostnames: [SITE_HOSTNAME],
      adminPassword: readLabSecret(state.dir, state.credentials.appliance.passwordFile),
      loginPassword: readLabSecret(state.dir, state.credentials.login.passwordFile),
      interApplianceKey: key,
      releaseKeyFiles: [path.join(state.dir, state.releaseKey.publicKey)],
    }),
  );
}

/** Ports: the appliances that share the site's address share one port, the others their own. */
export async function choosePorts(plan: PlannedAppliance[]): Promise<number[]> {
  const shared = plan.some((a) => a.sharesPort) ? await freePort(ADDRESSES.primary) : 0;
  return Promise.all(plan.map((a) => (a.sharesPort ? shared : freePort(a.host))));
}

export async function startAppliance(
  state: LabState,
  a: PlannedAppliance,
  port: number,
  started: (p: LabProcess) => void,
): Promise<LabAppliance> {
  const dataDir = path.join(state.dir, 'appliances', a.name);
  const daemon = spawnDaemon(
    a.name,
    'appliance',
    ['appliance', 'start', '--data-dir', dataDir, '--listen', `${a.host}:${port}`],
    path.join(state.dir, 'logs', `${a.name}.log`),
    nsOf(state.network, a.name),
  );
  started(daemon.proc);
  const url = labUrl(a.host, port);
  const cert = readFileSync(path.join(dataDir, 'tls', 'cert.pem'), 'utf8');
  await waitReady(
    daemon,
    async () => (await healthOf<{ ready?: boolean }>(url, cert))?.body.ready === true,
    READY_MS,
  );
  return {
    name: a.name,
    role: a.role,
    ...(a.region ? { region: a.region } : {}),
    host: a.host,
    port,
    fingerprint: fingerprintOf(cert),
    dataDir,
    urls: { appliance: `${url}/appliance`, login: `${url}/login` },
  };
}

const accepts = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** `gatehouse nat-forwarder` on the site's address, first pointed at the primary. */
export async function startNatForwarder(
  state: LabState,
  port: number,
  primary: { host: string; port: number },
  started: (p: LabProcess) => void,
): Promise<NonNullable<LabState['natForwarder']>> {
  const dataDir = path.join(state.dir, 'nat-forwarder');
  const control = `${ADDRESSES.site}:${await freePort(ADDRESSES.site)}`;
  const listen = `${ADDRESSES.site}:${port}`;
  const daemon = spawnDaemon(
    'nat-forwarder',
    'nat-forwarder',
    [
      'nat-forwarder',
      '--listen',
      listen,
      '--control',
      control,
      '--data-dir',
      dataDir,
      '--target',
      `${primary.host}:${primary.port}`,
    ],
    path.join(state.dir, 'logs', 'nat-forwarder.log'),
  );
  started(daemon.proc);
  const cert = path.join(dataDir, 'tls', 'cert.pem');
  await waitReady(
    daemon,
    async () => existsSync(cert) && (await accepts(ADDRESSES.site, port)),
    READY_MS,
  );
  return { listen, control, fingerprint: fingerprintOf(readFileSync(cert, 'utf8')), dataDir };
}

/** The lab agent (targets, Jump Clients, synthetic sessions); ready once it reports stats. */
export async function startAgent(
  state: LabState,
  started: (p: LabProcess) => void,
  ready: () => Promise<boolean>,
): Promise<void> {
  const daemon = spawnDaemon(
    'agent',
    'agent',
    ['lab', 'agent', '--dir', state.dir],
    path.join(state.dir, 'logs', 'agent.log'),
    nsOf(state.network, 'agent'),
  );
  started(daemon.proc);
  await waitReady(daemon, ready, READY_MS);
}
