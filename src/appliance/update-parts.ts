import { readFileSync } from 'node:fs';
import { loadPrivateKey } from '../shared/crypto.js';
import { until } from '../shared/until.js';
import { BASE_VERSION, CODE_ROOT, PRODUCT_VERSION } from '../shared/version.js';
import type { ClientGateway } from '../sessions/gateway.js';
import type { ClusterService } from '../cluster/cluster-service.js';
import type { ClusterNodes, NodeMembership } from '../cluster/nodes-store.js';
import { UpdateInstaller } from '../updates/installer.js';
import type { PackageKind } from '../updates/package.js';
import { applianceReleaseKeysDir, loadReleaseKeys } from '../updates/release-keys.js';
import { RESTAGE_ADVICE } from '../updates/staged-damage.js';
import { UpdateService } from '../updates/update-service.js';
import { UpdateSettings, type Standing } from '../updates/update-settings.js';
import type { BackupService } from './backup/backup.js';
import type { ApplianceBasics } from './wiring.js';

/** What the update domain is wired to in a running appliance (the `Appliance` is one). */
export interface UpdateWiring extends ApplianceBasics {
  readonly clients: Pick<ClientGateway, 'moveAll'>;
  readonly backups: Pick<BackupService, 'create'>;
  readonly clusterNodes: Pick<ClusterNodes, 'list'>;
  readonly membership: Pick<NodeMembership, 'get'>;
  readonly cluster: Pick<ClusterService, 'stopAllAccepting'>;
  readonly standing: Standing;
  readonly inflightWrites: number;
  writeGate: 'installing' | 'verifying' | undefined;
  onRestartRequested: (kind: PackageKind) => void;
}

/**
 * The update settings, installer and update service of an appliance, and how an install
 * reaches the rest of it: writes held and released, clients sent on, a backup first, the
 * cluster's traffic nodes stopped from accepting, the restart asked of the supervisor.
 */
export function updateParts(a: UpdateWiring, publicKeyPem: string) {
  const settings = new UpdateSettings(a.db, a.events);
  const installer = new UpdateInstaller({
    dataDir: a.dir.root,
    db: a.db,
    events: a.events,
    releaseKeys: () => loadReleaseKeys(applianceReleaseKeysDir(a.dir.root)),
    running: { product: PRODUCT_VERSION, base: BASE_VERSION, tree: CODE_ROOT },
    holdWrites: async (reason) => {
      a.writeGate = reason;
      // Its clients reconnect through the site now rather than when it restarts: after a
      // DNS, hosts-file or NAT switch the site is already elsewhere, and a console sent there
      // must find its Jump Clients there too. Sessions in progress go on until the restart
      // (resumable ones then resume where the site leads).
      a.clients.moveAll('this appliance is installing a software update');
      await until(() => a.inflightWrites === 0, 30_000, 'changes in progress to finish');
    },
    releaseWrites: () => {
      a.writeGate = undefined;
    },
    createBackup: (actor) => a.backups.create(actor, { includeRecordings: false }),
    requestRestart: (kind) => a.onRestartRequested(kind),
    reserveMiB: () => settings.reserveMiB(),
    // A primary node, or its failover backup (the backup primary node), marks every traffic
    // node as not accepting new clients when it installs (S23).
    installStarting: (actor) => {
      if (a.clusterNodes.list().length && !a.membership.get()) a.cluster.stopAllAccepting(actor);
    },
    // A traffic node's packages come from its primary node, not from the update server.
    restageAdvice: () => {
      const m = a.membership.get();
      return m
        ? `This is a traffic node: on its primary node (${m.primary}), Distribute to Cluster again (\`gatehouse upgrade resume\` does it), which replaces the copy; then install again.`
        : RESTAGE_ADVICE;
    },
  });
  const service = new UpdateService({
    appliance: a.identity.name,
    identityKey: loadPrivateKey(readFileSync(a.dir.identityKey, 'utf8')),
    publicKeyPem,
    running: { product: PRODUCT_VERSION, base: BASE_VERSION },
    standing: () => a.standing,
    settings,
    installer,
    events: a.events,
  });
  return { settings, installer, service };
}
