import { ApplianceClient, toError } from '../clients/admin-client.js';
import { GatehouseError } from '../shared/errors.js';
import { credentialsOf, type InventoryAppliance, type LoadedInventory } from './inventory.js';
import type { Plan } from './plan-types.js';
import { orchestratorErrors } from './error-codes.js';

/** One appliance as the orchestrator finds it through its API. */
export interface ApplianceState {
  name: string;
  host: string;
  port: number;
  fingerprint: string;
  reachable: boolean;
  error?: string;
  role?: 'standalone' | 'primary' | 'backup';
  productVersion?: string;
  baseVersion?: string;
  ready?: boolean;
  update?: string | null;
  failover?: {
    peer: string;
    peerAddress: { host: string; port: number };
    backupOperationsEnabled: boolean;
    lastSync: string | null;
    peerReachable: boolean | null;
  } | null;
  cluster?: {
    role: 'primary-node' | 'traffic-node' | 'none';
    membership: { primary: string; region: string; accepting: boolean } | null;
    nodes: {
      name: string;
      region: string;
      accepting: boolean;
      eligible: boolean;
      host: string;
      port: number;
    }[];
  };
  keyFingerprint?: string;
  freeBytes?: number;
  staged?: { id: string; kind: string; version: string }[];
  /** Shared addresses configured here, with whether each is enabled (bound). */
  sharedAddresses?: { address: string; enabled: boolean }[];
}

const split = (address: string) => {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
};

/**
 * The appliances of an inventory, each with a signed-in API client (both areas). Calls retry a
 * sign-in once when a token stopped being valid (a restore or rollback may forget it).
 */
export class Deployment {
  private readonly clients = new Map<string, ApplianceClient>();

  constructor(readonly inventory: LoadedInventory) {}

  entry(name: string): InventoryAppliance {
    const a = this.inventory.appliances.find((x) => x.name === name);
    if (!a)
      throw orchestratorErrors.INVENTORY_UNKNOWN_APPLIANCE(
        `No appliance "${name}" in ${this.inventory.file}.`,
      );
    return a;
  }

  address(name: string) {
    return split(this.entry(name).address);
  }

  private client(name: string): ApplianceClient {
    let c = this.clients.get(name);
    if (!c) {
      const a = this.entry(name);
      const { host, port } = split(a.address);
      c = new ApplianceClient(
        `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
        { fingerprint: a.fingerprint },
        { connections: 4 },
      );
      this.clients.set(name, c);
    }
    return c;
  }

  private async signIn(name: string, area: 'appliance' | 'login'): Promise<void> {
    const creds = credentialsOf(this.inventory, this.entry(name))[area];
    await this.client(name).signIn(area, creds.username, creds.password);
  }

  /** One API call to an appliance; a non-2xx answer becomes its GatehouseError. */
  async call<T>(
    name: string,
    method: string,
    path: string,
    json?: unknown,
    opts: { raw?: Buffer; stream?: boolean } = {},
  ): Promise<T> {
    const c = this.client(name);
    const area = path.startsWith('/api/appliance/')
      ? 'appliance'
      : path.startsWith('/api/login/')
        ? 'login'
        : undefined;
    if (area && !c.tokenFor(area)) await this.signIn(name, area);
    // The orchestrator's own changes on an appliance it marked as upgrading are meant (S23).
    const confirm = { 'x-gatehouse-confirm-overwrite': 'true' };
    const send = () =>
      c.call<T>(method, path, {
        json,
        headers: opts.raw ? { ...confirm, 'content-type': 'application/octet-stream' } : confirm,
        ...(opts.raw ? { raw: opts.raw } : {}),
        stream: opts.stream,
      });
    let res = await send();
    if (res.status === 401 && area) {
      await this.signIn(name, area);
      res = await send();
    }
    if (res.status >= 300) {
      const e = toError(res);
      throw new GatehouseError(e.code, e.status, `${name}: ${e.message}`, { fields: e.fields });
    }
    return res.body;
  }

  async health(name: string) {
    const res = await this.client(name).call<{
      role: 'standalone' | 'primary' | 'backup';
      productVersion: string;
      baseVersion: string;
      ready: boolean;
      update: string | null;
    }>('GET', '/health');
    return { status: res.status, ...res.body };
  }

  /** Everything `plan` checks, read from every appliance of the inventory. */
  async discover(): Promise<ApplianceState[]> {
    return Promise.all(this.inventory.appliances.map((a) => this.discoverOne(a)));
  }

  private async discoverOne(a: InventoryAppliance): Promise<ApplianceState> {
    const { host, port } = split(a.address);
    const base: ApplianceState = {
      name: a.name,
      host,
      port,
      fingerprint: a.fingerprint,
      reachable: false,
    };
    try {
      const h = await this.health(a.name);
      const [failover, cluster, key, status, updates] = await Promise.all([
        this.call<{
          relationship: {
            peer: { name: string; address: { host: string; port: number } };
            backupOperationsEnabled: boolean;
          } | null;
          lastSync: { finishedAt: string } | null;
          peerState: { reachable?: boolean } | null;
        }>(a.name, 'GET', '/api/login/failover'),
        this.call<ApplianceState['cluster']>(a.name, 'GET', '/api/login/cluster'),
        this.call<{ fingerprint: string }>(
          a.name,
          'GET',
          '/api/login/security/inter-appliance-key',
        ),
        this.call<{
          disk: { freeBytes: number };
          addresses: { address: string; kind: string; enabled: boolean }[];
        }>(a.name, 'GET', '/api/appliance/status'),
        this.call<{ staged: { id: string; kind: string; version: string }[] }>(
          a.name,
          'GET',
          '/api/appliance/updates',
        ),
      ]);
      return {
        ...base,
        reachable: true,
        role: h.role,
        productVersion: h.productVersion,
        baseVersion: h.baseVersion,
        ready: h.ready,
        update: h.update,
        failover: failover.relationship
          ? {
              peer: failover.relationship.peer.name,
              peerAddress: failover.relationship.peer.address,
              backupOperationsEnabled: failover.relationship.backupOperationsEnabled,
              lastSync: failover.lastSync?.finishedAt ?? null,
              peerReachable: failover.peerState?.reachable ?? null,
            }
          : null,
        cluster: cluster && {
          role: cluster.role,
          membership: cluster.membership,
          nodes: cluster.nodes.map((n) => ({
            name: n.name,
            region: n.region,
            accepting: n.accepting,
            eligible: n.eligible,
            host: n.host,
            port: n.port,
          })),
        },
        keyFingerprint: key.fingerprint,
        freeBytes: status.disk.freeBytes,
        staged: updates.staged.map((s) => ({ id: s.id, kind: s.kind, version: s.version })),
        sharedAddresses: status.addresses
          .filter((x) => x.kind === 'shared')
          .map((x) => ({ address: x.address, enabled: x.enabled })),
      };
    } catch (e) {
      return { ...base, error: (e as Error).message };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
  }
}

/** The appliance acting as the cluster's primary node now (the roles swap mid-run, S25). */
export async function actingPrimary(
  d: Deployment,
  plan: Pick<Plan, 'topology'>,
): Promise<string | undefined> {
  const { primary, backup } = plan.topology;
  for (const name of [primary, ...(backup ? [backup] : [])]) {
    const h = await d.health(name).catch(() => undefined);
    // Without failover the primary node is standalone as far as failover goes.
    if (h?.status === 200 && h.role !== 'backup') return name;
  }
  return undefined;
}
