import { readFileSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import { BlobStore } from '../store/blobs.js';
import { migrate, openDatabase, type Db } from '../store/db.js';
import { loadPrivateKey } from '../shared/crypto.js';
import { BASE_VERSION, PRODUCT_VERSION } from '../shared/version.js';

import { SYSTEM } from '../shared/actor.js';
import type { PackageKind } from '../updates/package.js';
import type { UpdateInstaller } from '../updates/installer.js';
import type { Standing, UpdateSettings } from '../updates/update-settings.js';
import type { UpdateService } from '../updates/update-service.js';
import { updateParts } from './update-parts.js';
import { EventLog } from '../site/events.js';
import { ScrapeTokens } from '../monitoring/scrape-tokens.js';
import { SyslogForwarder } from '../syslog/forwarder.js';
import { SyslogSettings } from '../syslog/settings.js';
import { SyslogSpool } from '../syslog/spool.js';
import { FileStore } from '../site/files.js';
import { InterApplianceKey } from '../site/security.js';
import { SiteSettingsService } from '../site/settings.js';
import { UserDirectory } from '../site/users.js';
import { ApplianceAdmins } from './auth/accounts.js';
import { Authenticator } from './auth/authenticator.js';
import { BackupService } from './backup/backup.js';
import { DataDir, readIdentity, type ApplianceIdentity } from './datadir.js';
import { LogRotationSetting } from './log-rotation.js';
import { ClientAddressSetting } from './client-address.js';
import { NetworkConfig } from './network.js';
import { ticketOf } from '../sessions/http/client-site.js';
import type { ClientGateway } from '../sessions/gateway.js';
import { CustomerKeys } from '../sessions/customer-keys.js';
import { LocalRouting, type ClientRouting } from '../sessions/routing.js';
import { configChanges, type JumpClientIdentities } from '../sessions/jump-client-identities.js';
import type { TicketClaims } from '../sessions/tickets.js';
import { ClusterNodes, NodeMembership } from '../cluster/nodes-store.js';
import { ClusterService } from '../cluster/cluster-service.js';
import type { SessionRecords } from '../sessions/session-records.js';
import type { SyncService } from '../failover/sync/service.js';
import { SharedAddressListeners } from './shared-listeners.js';
import { SharedAddresses } from './shared-addresses.js';
import { TrafficSwitchSettings } from '../traffic/settings.js';
import { LoadBalancerMembership } from '../traffic/load-balancer.js';
import type { Actor } from '../shared/actor.js';
import { certificateFingerprint } from '../shared/tls.js';
import { SiteIdentity } from '../site/site-identity.js';
import { UpgradeNotice } from './upgrade-notice.js';
import { failoverParts } from './failover-parts.js';
import { applianceErrors } from './error-codes.js';
import {
  checkClientTicket,
  clientParts,
  installerSite,
  sendClientsToSite,
} from './client-parts.js';
import type { FailoverRelationship, FailoverRole } from '../failover/relationship.js';

export type Role = FailoverRole;

/**
 * Everything one running appliance is made of, opened from its data directory. Routes and
 * pages receive this and call the domain services on it; they hold no state of their own.
 * The composition root: its constructor wires the domains in the order they depend on each
 * other (wiring that stands alone is in client-parts.ts, failover-parts.ts,
 * shared-addresses.ts and update-parts.ts); the behaviour is in the domains, each method here a few lines that join two.
 */
export class Appliance {
  readonly startedAt = Date.now();
  readonly events: EventLog;
  readonly settings: SiteSettingsService;
  readonly users: UserDirectory;
  readonly files: FileStore;
  readonly interApplianceKey: InterApplianceKey;
  readonly network: NetworkConfig;
  readonly clientAddress: ClientAddressSetting;
  readonly logRotation: LogRotationSetting;
  readonly admins: ApplianceAdmins;
  readonly auth: Authenticator;
  readonly backups: BackupService;
  /** The client gateway: connected Jump Clients and consoles, relayed sessions. */
  readonly clients: ClientGateway;
  readonly sessionRecords: SessionRecords;
  /** Each Jump Client installation's enrolled key, bound to its name; enrolment tokens. */
  readonly jumpClientIdentities: JumpClientIdentities;
  /** Session keys representatives gave their customers, waiting for a customer client. */
  readonly customerKeys = new CustomerKeys();
  private readonly localRouting: ClientRouting;
  /** The cluster's traffic nodes, when this appliance is a primary node (or its backup). */
  readonly clusterNodes: ClusterNodes;
  readonly cluster: ClusterService;
  /** This appliance's membership when it is a traffic node. */
  readonly membership: NodeMembership;
  /** Where peers reach this appliance; set by the daemon once it listens. */
  listenAddress = { host: '127.0.0.1', port: 0 };
  /** Set by the daemon once its logger exists. */
  log: (msg: string, fields?: Record<string, unknown>) => void = () => undefined;
  readonly sharedListeners = new SharedAddressListeners();
  /** Shared addresses: change them, have them follow the primary role (S19). */
  readonly addresses: SharedAddresses;
  readonly certificateFingerprint: string;
  /** The site certificate authority and this appliance's certificate issued by it (S20). */
  readonly siteIdentity: SiteIdentity;
  /** Set by the orchestrator on the old primary while its site is upgraded (S23). */
  readonly upgradeNotice: UpgradeNotice;
  /** The failover relationship (src/failover/relationship.ts): the role comes from it. */
  readonly failover: FailoverRelationship;
  readonly updateSettings: UpdateSettings;
  readonly updates: UpdateInstaller;
  readonly updateService: UpdateService;
  readonly sync: SyncService;
  readonly traffic: TrafficSwitchSettings;
  readonly loadBalancer: LoadBalancerMembership;
  /** Bearer tokens of GET /metrics (src/monitoring). */
  readonly scrapeTokens: ScrapeTokens;
  /** /login > Management > Syslog, and the forwarder the daemon starts (src/syslog). */
  readonly syslogSettings: SyslogSettings;
  syslog: SyslogForwarder | undefined;
  ready = false;
  /**
   * While set, requests that change anything are refused with 503: during an install (so the
   * rollback snapshot misses no acknowledged write) and while new software is on trial.
   */
  writeGate: 'installing' | 'verifying' | undefined;
  inflightWrites = 0;
  /** Set by the daemon: stop serving and exit so the supervisor starts the new slot. */
  onRestartRequested: (kind: PackageKind) => void = () => {
    throw applianceErrors.UPDATE_NEEDS_SUPERVISOR(
      'This appliance was not started by `gatehouse appliance start`; it cannot restart into new software.',
    );
  };

  private constructor(
    readonly dir: DataDir,
    readonly identity: ApplianceIdentity,
    readonly db: Db,
    readonly blobs: BlobStore,
  ) {
    this.events = new EventLog(db, identity.name);
    this.settings = new SiteSettingsService(db, this.events);
    this.users = new UserDirectory(db, this.events, this.settings);
    this.files = new FileStore(
      db,
      blobs,
      this.events,
      () => this.settings.get().fileStoreMaxMiB * 1024 * 1024,
    );
    this.interApplianceKey = new InterApplianceKey(db, this.events);
    this.network = new NetworkConfig(db, this.events);
    this.clientAddress = new ClientAddressSetting(db, this.events);
    this.logRotation = new LogRotationSetting(db, this.events);
    this.traffic = new TrafficSwitchSettings(db, this.events, this.network, {
      name: identity.name,
      port: () => this.sharedListeners.listenPort,
    });
    this.loadBalancer = new LoadBalancerMembership(db, this.events);
    this.admins = new ApplianceAdmins(db, this.events);
    this.scrapeTokens = new ScrapeTokens(db, this.events);
    this.syslogSettings = new SyslogSettings(db, this.events);
    this.auth = new Authenticator(
      db,
      this.events,
      this.admins,
      this.users,
      this.settings,
      readFileSync(dir.csrfKey, 'utf8').trim(),
    );
    const publicKeyPem = readFileSync(dir.identityPub, 'utf8');
    this.backups = new BackupService(
      db,
      blobs,
      this.events,
      dir.tmp,
      identity.name,
      loadPrivateKey(readFileSync(dir.identityKey, 'utf8')),
      publicKeyPem,
    );
    this.certificateFingerprint = certificateFingerprint(readFileSync(dir.tlsCert, 'utf8'));
    this.upgradeNotice = new UpgradeNotice(db, this.events);
    this.siteIdentity = new SiteIdentity(
      { ca: dir.siteCa, cert: dir.siteCert, tlsKey: dir.tlsKey },
      this.events,
      () => ({
        commonName: identity.hostnames[0] ?? identity.name,
        names: [
          ...identity.hostnames,
          ...identity.addresses,
          ...this.network
            .list()
            .filter((a) => a.kind === 'shared')
            .map((a) => a.address),
          this.settings.get().siteHostname,
        ].filter(Boolean),
      }),
    );
    const failover = failoverParts(this);
    this.sync = failover.sync;
    this.failover = failover.relationship;
    const clients = clientParts(this);
    this.sessionRecords = clients.records;
    this.jumpClientIdentities = clients.identities;
    this.clients = clients.gateway;
    this.addresses = new SharedAddresses({
      network: this.network,
      traffic: this.traffic,
      listeners: this.sharedListeners,
      clients: this.clients,
      events: this.events,
    });
    this.localRouting = new LocalRouting(this.clients, identity.name);
    this.clusterNodes = new ClusterNodes(db, this.events);
    this.membership = new NodeMembership(db, this.events);
    this.cluster = new ClusterService({
      name: identity.name,
      version: PRODUCT_VERSION,
      host: () => ({ ...this.listenAddress, fingerprint: this.certificateFingerprint }),
      key: () => this.interApplianceKey.get(),
      siteCa: this.siteIdentity,
      db,
      blobs,
      events: this.events,
      nodes: this.clusterNodes,
      gateway: this.clients,
      configVersion: () => configChanges(db).n,
      active: () => this.ready && this.db.open && this.role !== 'backup',
      log: (msg, fields) => this.log(msg, fields),
    });
    const updates = updateParts(this, publicKeyPem);
    this.updateSettings = updates.settings;
    this.updates = updates.installer;
    this.updateService = updates.service;
  }

  /** Whether this appliance still honours a client's ticket (its user, its installation). */
  checkClient(claims: TicketClaims): void {
    checkClientTicket(this, claims);
  }

  /** The checked claims of the console ticket a request bears (the console builds need one). */
  consoleTicket(req: FastifyRequest): TicketClaims {
    return ticketOf(this, req, 'console');
  }

  /** The checked claims of a Jump Client's ticket (a Jump Client downloads its build, S13). */
  jumpClientTicket(req: FastifyRequest): TicketClaims {
    return ticketOf(this, req, 'jump-client');
  }

  /** What a Jump Client installer names: the site's address and certificates (S13). */
  installerSite(requestHost: string) {
    return installerSite(this, requestHost);
  }

  /** Ask every connected client to reconnect through the site hostname; returns how many. */
  sendClientsToSite(actor: Actor): number {
    return sendClientsToSite(this, actor);
  }

  /** A rollback done by the supervisor goes into the event log once this (old) code runs. */
  recordUpdateOutcome(): void {
    const result = this.updates.sys.lastResult();
    if (!result || result.ok || result.recorded) return;
    this.events.record(SYSTEM, 'update.rolled-back', this.identity.name, { ...result }, 'failed');
    this.updates.sys.writeLastResult({ ...result, recorded: true });
  }

  /** The supervisor committed the new software: writes are accepted again. */
  updateCommitted(): void {
    this.writeGate = undefined;
    const result = this.updates.sys.lastResult();
    this.events.record(SYSTEM, 'update.committed', this.identity.name, { ...result });
  }

  /** Open an initialised data directory: migrate the schema, clean interrupted writes. */
  static async open(root: string): Promise<Appliance> {
    const dir = new DataDir(root);
    return Appliance.openForInit(dir, readIdentity(dir));
  }

  /** Open a directory with the identity given: `init` calls it before the identity file exists. */
  static async openForInit(dir: DataDir, identity: ApplianceIdentity): Promise<Appliance> {
    const db = openDatabase(dir.database);
    try {
      migrate(db);
      const blobs = new BlobStore(dir.blobs);
      await blobs.init();
      const appliance = new Appliance(dir, identity, db, blobs);
      await appliance.siteIdentity.ensure(SYSTEM);
      return appliance;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Where the site sends clients: a traffic node of its cluster, or this appliance. */
  get routing(): ClientRouting {
    return this.cluster.isPrimaryNode ? this.cluster : this.localRouting;
  }

  /** standalone, or primary / backup of a failover relationship. */
  get role(): Role {
    return this.failover.role;
  }

  /** Its failover role and its place in a cluster, as the running code knows them (S5, S17). */
  get standing(): Standing {
    return {
      failover: this.role,
      cluster: this.membership.get()
        ? 'traffic-node'
        : this.clusterNodes.list().length
          ? 'primary-node'
          : 'none',
    };
  }

  /**
   * Whether clients (consoles, Jump Clients, customer clients) may connect here: a backup
   * accepts none; they connect to the primary the site hostname resolves to (S1, S15).
   */
  get acceptsClients(): boolean {
    return this.role !== 'backup';
  }

  get productVersion() {
    return PRODUCT_VERSION;
  }

  get baseVersion() {
    return BASE_VERSION;
  }

  status() {
    const fs = statfsSync(this.dir.root);
    return {
      name: this.identity.name,
      hostnames: this.identity.hostnames,
      role: this.role,
      productVersion: PRODUCT_VERSION,
      baseVersion: BASE_VERSION,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      addresses: this.network.list(),
      certificateFingerprint: this.certificateFingerprint,
      disk: {
        path: this.dir.root,
        totalBytes: fs.blocks * fs.bsize,
        freeBytes: fs.bavail * fs.bsize,
      },
    };
  }

  /** Forward the event log to the configured syslog collector (messages wait in DATA_DIR/syslog). */
  startSyslog(): void {
    this.syslog = new SyslogForwarder({
      events: this.events,
      config: () => (this.db.open ? this.syslogSettings.get() : undefined),
      spool: new SyslogSpool(
        path.join(this.dir.root, 'syslog', 'spool.db'),
        () => (this.db.open ? this.syslogSettings.get()?.spoolMaxMessages : undefined) ?? 100_000,
      ),
      log: (msg, fields) => this.log(msg, fields),
    });
    this.syslog.start();
  }

  close(): void {
    this.ready = false;
    this.syslog?.stop();
    this.clients.stop();
    this.cluster.stop();
    this.updateService.stop();
    if (this.db.open) this.db.close();
    void this.blobs.close();
  }
}
