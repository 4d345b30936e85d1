import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApplianceClient, toError, type ApiResponse } from '../clients/admin-client.js';
import { until } from '../shared/until.js';
import { ADDRESSES, SITE_HOSTNAME } from './plan.js';
import { readLabSecret } from './secrets.js';
import { DNS_TSIG_SECRET, dnsSwitchConfig } from './dns-netns.js';
import { natCommand } from './switch-netns.js';
import { labUrl, type LabAppliance, type LabState } from './state.js';

const SETUP_MS = 30_000;

/** A client of one lab appliance, signed in to both admin areas. */
export async function adminClient(state: LabState, a: LabAppliance): Promise<ApplianceClient> {
  const certPem = readFileSync(path.join(a.dataDir, 'tls', 'cert.pem'), 'utf8');
  const api = new ApplianceClient(labUrl(a.host, a.port), { certPem }, { connections: 2 });
  const { appliance, login } = state.credentials;
  // Side by side: each sign-in hashes its password on the appliance (scrypt).
  await Promise.all([
    api.signIn('appliance', appliance.username, readLabSecret(state.dir, appliance.passwordFile)),
    api.signIn('login', login.username, readLabSecret(state.dir, login.passwordFile)),
  ]);
  return api;
}

async function ok<T>(res: Promise<ApiResponse<T>>): Promise<T> {
  const r = await res;
  if (r.status >= 300) throw toError(r);
  return r.body;
}

type Clients = Map<string, ApplianceClient>;

/**
 * Every appliance checks the lab's update server (pinned) for updates. The lab is the server's
 * operator: it creates one registration token per appliance in the server's data directory
 * (also while the server runs) and each appliance enrols with it at a first check.
 */
export async function pointAtUpdateServer(state: LabState, apis: Clients): Promise<void> {
  const { url, fingerprint, dataDir } = state.updateServer!;
  const { UpdateServerDir } = await import('../updates/server/data-dir.js');
  const { UpdateStore } = await import('../updates/server/store.js');
  const { createRegistrationToken } = await import('../updates/server/enrolment.js');
  const store = UpdateStore.open(new UpdateServerDir(dataDir).database);
  const tokens = new Map<string, string>();
  try {
    for (const name of apis.keys())
      tokens.set(name, createRegistrationToken(store, { appliance: name, ttlHours: 1 }).token);
  } finally {
    store.close();
  }
  await Promise.all(
    [...apis].map(async ([name, api]) => {
      const registrationToken = tokens.get(name)!;
      await ok(
        api.call('PUT', '/api/appliance/updates/server', {
          json: { url, fingerprint, registrationToken },
        }),
      );
      await ok(api.call('POST', '/api/appliance/updates/check'));
    }),
  );
}

/** The site's traffic switch on the appliances that can hold the site (primary and backup). */
export async function configureSwitch(state: LabState, apis: Clients): Promise<void> {
  const holders = state.appliances.filter((a) => a.role !== 'traffic-node');
  const method = state.site.switch;
  for (const a of holders) {
    const api = apis.get(a.name)!;
    const primary = a.role !== 'backup';
    const address = state.site.sharedAddress ?? ADDRESSES.site;
    // netns: the address is real, on eth0; the switch puts it there and announces it by ARP.
    if (method === 'shared-ip' && state.network)
      await ok(
        api.call('PUT', '/api/appliance/traffic', {
          json: { provider: 'shared-ip', address, device: 'eth0', localName: a.name },
        }),
      );
    if (method === 'shared-ip')
      await ok(
        api.call('POST', '/api/appliance/network/addresses', {
          json: { address, kind: 'shared', enabled: primary },
        }),
      );
    if (method === 'hosts-file')
      await ok(
        api.call('PUT', '/api/appliance/traffic', {
          json: { provider: 'hosts-file', file: state.site.hostsFile, hostname: SITE_HOSTNAME },
        }),
      );
    if (method === 'nat')
      await ok(api.call('PUT', '/api/appliance/traffic', { json: natCommand(state) }));
    if (method === 'dns')
      await ok(
        api.call('PUT', '/api/appliance/traffic', {
          json: dnsSwitchConfig(state, readLabSecret(state.dir, DNS_TSIG_SECRET)),
        }),
      );
    if (method === 'nat-forwarder') {
      const nat = state.natForwarder!;
      await ok(
        api.call('PUT', '/api/appliance/traffic', {
          json: {
            provider: 'nat-forwarder',
            control: nat.control,
            fingerprint: nat.fingerprint,
            token: readFileSync(path.join(nat.dataDir, 'control-token'), 'utf8').trim(),
          },
        }),
      );
    }
  }
  const primary = holders.find((a) => a.role !== 'backup')!;
  if (method !== 'shared-ip' && method !== 'none')
    await ok(
      apis.get(primary.name)!.call('POST', '/api/appliance/traffic/point-here', { json: {} }),
    );
}

/** The synthetic sessions' representative, and an enrolment token for the lab's Jump Clients. */
export async function prepareSite(
  state: LabState,
  primary: ApplianceClient,
): Promise<{ jumpClientToken: string }> {
  const rep = state.credentials.representative;
  await ok(
    primary.call('POST', '/api/login/users', {
      json: {
        username: rep.username,
        displayName: 'Lab Representative',
        password: readLabSecret(state.dir, rep.passwordFile),
      },
    }),
  );
  // Each Jump Client enrols its own key once (kept in the lab's directory) with this token.
  const { token } = await ok(
    primary.call<{ token: string }>('POST', '/api/login/jump-clients/tokens', {
      json: { uses: 1000, expiresInHours: 720 },
    }),
  );
  return { jumpClientToken: token };
}

/** Add every traffic node to the primary node in its region; wait until all are eligible. */
export async function formCluster(state: LabState, primary: ApplianceClient): Promise<void> {
  const key = readLabSecret(state.dir, state.interApplianceKeyFile);
  const nodes = state.appliances.filter((a) => a.role === 'traffic-node');
  for (const n of nodes)
    await ok(
      primary.call('POST', '/api/login/cluster/nodes', {
        json: { host: n.host, port: n.port, region: n.region, key },
      }),
    );
  await until(
    async () => {
      const c = await ok(
        primary.call<{ nodes: { eligible: boolean }[] }>('GET', '/api/login/cluster'),
      );
      return c.nodes.filter((n) => n.eligible).length === nodes.length;
    },
    SETUP_MS,
    'every traffic node to be eligible',
    100,
  );
}

/** Establish failover from the primary, sync once, and wait until both report their roles. */
export async function establishFailover(state: LabState, apis: Clients): Promise<void> {
  const primary = state.appliances.find((a) => a.role === 'primary')!;
  const backup = state.appliances.find((a) => a.role === 'backup')!;
  const api = apis.get(primary.name)!;
  await ok(
    api.call('POST', '/api/login/failover/establish', {
      json: {
        backupHost: backup.host,
        backupPort: backup.port,
        reverseHost: primary.host,
        reversePort: primary.port,
        firstSyncAfterSeconds: 5,
      },
    }),
  );
  await ok(api.call('POST', '/api/login/failover/sync'));
  for (const a of [primary, backup])
    await until(
      async () =>
        (await apis.get(a.name)!.call<{ role: string }>('GET', '/health')).body.role === a.role,
      SETUP_MS,
      `${a.name} to report the ${a.role} role`,
      100,
    );
}
