/**
 * The deployments `npm run bench -- resume` moves sessions across, as real appliance processes
 * on loopback: a lone appliance (kill, install), a failover pair behind a shared address
 * (Become Backup) and a cluster of a primary node and two traffic nodes (drain).
 */
import path from 'node:path';
import { toError, type ApplianceClient } from '../src/clients/admin-client.js';
import type { Endpoint } from '../src/clients/tunnel.js';
import {
  freePort,
  initApplianceProcess,
  startApplianceProcess,
  type ApplianceProcess,
} from '../src/lab/processes.js';
import type { Cleanup } from './support.js';

export const LOGIN_PASSWORD = 'Site-Operator-Pw-2';
const ADMIN_PASSWORD = 'Gatekeeper-Pass-1';

/** One appliance process of a bench deployment, signed in to both admin areas. */
export class BenchAppliance {
  proc!: ApplianceProcess;
  api!: ApplianceClient;

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly host: string,
  ) {}

  async start(port?: number): Promise<void> {
    this.proc = await startApplianceProcess(this.dataDir, {
      host: this.host,
      port,
      logLevel: 'warn',
      readyTimeoutMs: 60_000,
    });
    this.api = this.proc.client();
    await this.api.signIn('appliance', 'admin', ADMIN_PASSWORD);
    await this.api.signIn('login', 'admin', LOGIN_PASSWORD);
  }

  /** SIGKILL (supervisor and worker), then start again on the same port. */
  async crashAndRestart(): Promise<void> {
    const port = this.proc.port;
    await this.proc.kill();
    await this.api.close();
    await this.start(port);
  }

  async stop(): Promise<void> {
    await this.api?.close();
    await this.proc?.stop().catch(() => this.proc.kill());
  }

  get endpoint(): Endpoint {
    return { host: this.host, port: this.proc.port, fingerprint: this.proc.fingerprint };
  }

  /** An admin call that must answer `status`; its body. */
  async call<T = unknown>(method: string, p: string, json: unknown, status: number): Promise<T> {
    const res = await this.api.call<T>(method, p, { json });
    if (res.status !== status) throw toError(res);
    return res.body;
  }
}

export async function startBenchAppliance(
  cleanup: Cleanup,
  root: string,
  o: { name: string; host: string; port?: number; key: string; releasePub?: string },
): Promise<BenchAppliance> {
  const dataDir = path.join(root, o.name);
  await initApplianceProcess({
    dataDir,
    name: o.name,
    host: o.host,
    adminPassword: ADMIN_PASSWORD,
    loginPassword: LOGIN_PASSWORD,
    interApplianceKey: o.key,
    releaseKeyFiles: o.releasePub ? [o.releasePub] : undefined,
  });
  const t = new BenchAppliance(o.name, dataDir, o.host);
  cleanup.add(() => t.stop());
  await t.start(o.port);
  return t;
}

/** An enrolment token of the site for the bench's Jump Clients. */
export async function enrolmentToken(t: BenchAppliance): Promise<string> {
  const body = { uses: 20 };
  return (await t.call<{ token: string }>('POST', '/api/login/jump-clients/tokens', body, 201))
    .token;
}

/** A failover pair on one port of two addresses, `shared` held by the primary (a), synchronised. */
export async function startPair(
  cleanup: Cleanup,
  root: string,
  o: { a: string; b: string; shared: string; key: string },
): Promise<{ a: BenchAppliance; b: BenchAppliance; site: Endpoint }> {
  const port = await freePort(o.a);
  const [a, b] = await Promise.all([
    startBenchAppliance(cleanup, root, { name: 'pair-a', host: o.a, port, key: o.key }),
    startBenchAppliance(cleanup, root, { name: 'pair-b', host: o.b, port, key: o.key }),
  ]);
  const shared = (enabled: boolean) => ({ address: o.shared, kind: 'shared', enabled });
  await a.call('POST', '/api/appliance/network/addresses', shared(true), 201);
  await b.call('POST', '/api/appliance/network/addresses', shared(false), 201);
  const establish = {
    backupHost: o.b,
    backupPort: port,
    reverseHost: o.a,
    reversePort: port,
    firstSyncAfterSeconds: 1,
  };
  await a.call('POST', '/api/login/failover/establish', establish, 201);
  await a.call('POST', '/api/login/failover/sync', undefined, 200);
  const site = { ...a.endpoint, host: o.shared, alsoTrust: [b.proc.fingerprint] };
  return { a, b, site };
}

/** A primary node and traffic nodes, all in region "east". */
export async function startCluster(
  cleanup: Cleanup,
  root: string,
  o: { primary: string; nodes: string[]; key: string },
): Promise<{ primary: BenchAppliance; nodes: BenchAppliance[] }> {
  const [primary, ...nodes] = await Promise.all([
    startBenchAppliance(cleanup, root, { name: 'atlas-primary', host: o.primary, key: o.key }),
    ...o.nodes.map((host, i) =>
      startBenchAppliance(cleanup, root, { name: `atlas-node-${i + 1}`, host, key: o.key }),
    ),
  ]);
  for (const n of nodes) {
    const add = { host: n.host, port: n.proc.port, region: 'east', key: o.key };
    await primary!.call('POST', '/api/login/cluster/nodes', add, 201);
  }
  return { primary: primary!, nodes };
}
