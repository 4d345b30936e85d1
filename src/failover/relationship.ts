import { GatehouseError, conflict, isGatehouseError } from '../shared/errors.js';
import { SYSTEM, type Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import { PeerClient, peerLabel, type PeerAddress } from './peer-client.js';
import {
  JoinMessage,
  PeerClaim,
  RoleRequest,
  SyncIntervalMessage,
  type AutomaticFailover,
  type EstablishInput,
} from './relationship-schemas.js';
import { RelationshipStore } from './relationship-store.js';
import { refuseMovingAddresses, type MovingAddress } from './relationship-addresses.js';
import { asAdminError, BEST_EFFORT_MS, withTimeout } from './relationship-errors.js';
import { checkReverseDetails, joinBackup, type PeerHello } from './relationship-join.js';
import { checkPrimaryVersion, isNewer, ownVersions } from './version-skew.js';
import { FailoverMonitor } from './failover-monitor.js';
import type { RelationshipView, SyncResult } from './types.js';

export type FailoverRole = 'standalone' | 'primary' | 'backup';

/**
 * What the relationship needs of the synchronisation (src/failover/sync), kept loose so the two
 * stay apart: the final sync before a planned role change, and the last result for the page.
 */
export interface SyncHook {
  syncNow(rel: RelationshipView): Promise<SyncResult>;
  /** Pull only the history (logs, session records, recordings) of a peer: S21 at establish. */
  pullFrom(peer: PeerClient, mode: 'merge-history-only'): Promise<SyncResult>;
  readonly lastResult?: SyncResult | null;
  readonly progress?: SyncProgressView;
}

/** A sync's progress as the Failover page shows it (src/failover/sync reports it). */
export interface SyncProgressView {
  phase: string;
  mode?: string;
  from?: string;
  startedAt?: string;
  rows: { done: number; total: number };
  blobs: { done: number; total: number; bytes: number };
  error?: { code: string; message: string };
}

/** Where the synchronisation of the pair stands: the backup pulls, so its view is the one. */
export interface PairSyncStatus {
  /** The appliance whose progress this is (the backup), and whether it could be asked. */
  appliance: string;
  reachable: boolean;
  progress: SyncProgressView | null;
  lastResult: SyncResult | null;
  error?: { code: string; message: string };
}

export interface RelationshipDeps {
  db: Db;
  events: EventLog;
  name: string;
  fingerprint: string;
  key: () => string;
  sync: () => SyncHook | undefined;
  /** Whether this appliance is serving (the daemon's): only then does the monitor act. */
  active: () => boolean;
  /**
   * What follows the role on this appliance (its shared addresses, S19): called after each role
   * change, and before giving up the primary role so that the peer can take over the address.
   */
  followRole?: (actor: Actor, role: FailoverRole) => Promise<void>;
  /** Addresses that follow the primary role here: never connection details (S14). */
  movingAddresses?: () => MovingAddress[];
}

/** What this appliance answers to every relationship call: who it is and what it believes. */
export interface PeerAnswer {
  name: string;
  role: FailoverRole;
  generation: number;
}

export interface PeerState {
  reachable: boolean;
  checkedAt: string;
  role?: FailoverRole;
  generation?: number;
  error?: { code: string; message: string };
}

/**
 * The failover relationship state machine (S14, S7, S25): establish from the intended primary,
 * break from either side, planned and forced role changes. Roles carry a generation raised by
 * every role change; whoever learns that the peer became primary at a higher generation than
 * its own steps down, so an old primary that returns never serves beside the new one.
 */
export class FailoverRelationship {
  readonly store: RelationshipStore;
  readonly monitor: FailoverMonitor;
  private busy: string | undefined;

  constructor(private readonly deps: RelationshipDeps) {
    this.store = new RelationshipStore(deps.db, deps.events);
    this.monitor = new FailoverMonitor(this, deps.events, deps.active);
    this.monitor.start();
  }

  get role(): FailoverRole {
    return this.store.get()?.role ?? 'standalone';
  }

  view(): RelationshipView | undefined {
    return this.store.get();
  }

  automatic(): AutomaticFailover {
    return this.store.automatic();
  }

  setAutomatic(actor: Actor, value: AutomaticFailover): AutomaticFailover {
    this.store.setAutomatic(actor, value);
    return this.store.automatic();
  }

  lastSync(): SyncResult | null {
    return this.deps.sync()?.lastResult ?? null;
  }

  /**
   * Sync Now (S7, S15): on the backup, pull from the primary; on the primary, ask the backup to
   * pull and wait for its result.
   */
  async syncNow(actor: Actor): Promise<SyncResult> {
    const rel = this.paired();
    const sync = this.deps.sync();
    if (!sync)
      throw conflict('SYNC_UNAVAILABLE', 'This appliance has no synchronisation service running.');
    this.deps.events.record(actor, 'failover.sync-now', rel.peer.name, { role: rel.role });
    return sync.syncNow(rel);
  }

  /**
   * The pair's sync progress and last result, from the backup that pulls: this appliance's own
   * on a backup, the peer's (asked now) on a primary.
   */
  async syncStatus(timeoutMs = 3_000): Promise<PairSyncStatus | null> {
    const rel = this.store.get();
    if (!rel) return null;
    const sync = this.deps.sync();
    if (rel.role === 'backup')
      return {
        appliance: this.deps.name,
        reachable: true,
        progress: sync?.progress ?? null,
        lastResult: sync?.lastResult ?? null,
      };
    try {
      const answer = await this.callPeer<
        PeerAnswer & { progress: SyncProgressView; lastResult: SyncResult | null }
      >(rel, '/api/peer/sync/status', {}, timeoutMs);
      return {
        appliance: rel.peer.name,
        reachable: true,
        progress: answer.progress,
        lastResult: answer.lastResult,
      };
    } catch (e) {
      return {
        appliance: rel.peer.name,
        reachable: false,
        progress: null,
        lastResult: sync?.lastResult ?? null,
        error: isGatehouseError(e)
          ? { code: e.code, message: e.message }
          : { code: 'FAILOVER_PEER_UNREACHABLE', message: String(e) },
      };
    }
  }

  private claim(): PeerAnswer {
    const rel = this.store.get();
    return {
      name: this.deps.name,
      role: rel?.role ?? 'standalone',
      generation: rel?.generation ?? 0,
    };
  }

  private follow(actor: Actor, role: FailoverRole): Promise<void> {
    return this.deps.followRole?.(actor, role) ?? Promise.resolve();
  }

  private client(address: PeerAddress, fingerprint: string): PeerClient {
    return new PeerClient(address, fingerprint, this.deps.key, this.deps.name);
  }

  private paired(): RelationshipView {
    const rel = this.store.get();
    if (!rel)
      throw conflict(
        'FAILOVER_NOT_PAIRED',
        'This appliance is not in a failover relationship. Establish one first, on the appliance intended to be the primary.',
      );
    return rel;
  }

  /** One administrative change at a time: a second one is refused, never interleaved. */
  private async exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy)
      throw conflict(
        'FAILOVER_BUSY',
        `This appliance is already busy with "${this.busy}". Wait until it has finished, then try again.`,
      );
    this.busy = what;
    try {
      return await fn();
    } finally {
      this.busy = undefined;
    }
  }

  /** A signed call to the peer of the relationship; its answer teaches us its generation. */
  private async callPeer<T extends PeerAnswer>(
    rel: RelationshipView,
    path: string,
    body: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<T> {
    const client = this.client(rel.peer.address, rel.peer.fingerprint);
    try {
      const call = client.call<T>('POST', path, { ...body, ...this.claimOf(rel) });
      const answer = await (timeoutMs ? withTimeout(call, timeoutMs, client.label) : call);
      return answer;
    } finally {
      void client.close();
    }
  }

  private claimOf(rel: RelationshipView) {
    return { role: rel.role, generation: rel.generation };
  }

  // ---- Establish (S14) ----------------------------------------------------------------------

  async establish(actor: Actor, input: EstablishInput): Promise<RelationshipView> {
    return this.exclusive('establishing a relationship', async () => {
      const existing = this.store.get();
      if (existing)
        throw conflict(
          'FAILOVER_ALREADY_PAIRED',
          `This appliance is already the ${existing.role} of a failover relationship with "${existing.peer.name}" (${peerLabel(existing.peer.address)}). Break that relationship first.`,
        );
      const backup: PeerAddress = { host: input.backupHost, port: input.backupPort };
      const reverse: PeerAddress = { host: input.reverseHost, port: input.reversePort };
      refuseMovingAddresses(input, this.deps.movingAddresses?.() ?? []);
      try {
        const rel = await joinBackup(
          { name: this.deps.name, fingerprint: this.deps.fingerprint, key: this.deps.key },
          backup,
          reverse,
          input,
          (client, hello) => this.mergeHistoryOf(actor, client, hello),
        );
        this.store.write(actor, 'failover.established', rel, {
          role: 'primary',
          generation: rel.generation,
          backup: peerLabel(backup),
          reverse: peerLabel(reverse),
          peerFingerprint: rel.peer.fingerprint,
        });
        return rel;
      } catch (e) {
        if (isGatehouseError(e))
          this.deps.events.record(
            actor,
            'failover.establish-failed',
            peerLabel(backup),
            { code: e.code, reason: e.message },
            'failed',
          );
        throw e;
      }
    });
  }

  /**
   * S21: before the backup joins (and later mirrors this primary), take the history it
   * gathered on its own (sessions completed while the pair was broken) so that nothing of it
   * is lost. A backup newer than this primary keeps its history until the primary is upgraded:
   * this appliance cannot read a newer appliance's rows.
   */
  private async mergeHistoryOf(actor: Actor, client: PeerClient, hello: PeerHello): Promise<void> {
    const sync = this.deps.sync();
    if (!sync) return;
    if (isNewer(hello, ownVersions())) {
      this.deps.events.record(actor, 'failover.history-merge-skipped', hello.name, {
        reason: `"${hello.name}" runs ${hello.productVersion} (schema ${hello.schemaVersion}), newer than this appliance: its history stays on it until this appliance is upgraded.`,
      });
      return;
    }
    try {
      await sync.pullFrom(client, 'merge-history-only');
    } catch (e) {
      const err = asAdminError(e);
      throw new GatehouseError(
        err.code,
        err.status,
        `Before pairing, this appliance takes the history of "${hello.name}" (logs and session records) so none of it is lost, and that failed: ${err.message} Nothing was changed; try again.`,
      );
    }
  }

  /** On the intended backup: the primary asks to pair (peer-auth has checked the key). */
  async acceptJoin(from: string, body: unknown): Promise<PeerAnswer> {
    const msg = JoinMessage.parse(body);
    if (from === this.deps.name || msg.primaryFingerprint === this.deps.fingerprint)
      throw conflict(
        'FAILOVER_SELF',
        'An appliance cannot be in a failover relationship with itself.',
      );
    const existing = this.store.get();
    if (existing && existing.peer.name !== from)
      throw conflict(
        'FAILOVER_PEER_PAIRED',
        `"${this.deps.name}" is already the ${existing.role} of a failover relationship with "${existing.peer.name}". Break that relationship (on either of those appliances) before pairing it with "${from}".`,
      );
    if (msg.productVersion !== undefined && msg.schemaVersion !== undefined)
      checkPrimaryVersion(
        { name: from, productVersion: msg.productVersion, schemaVersion: msg.schemaVersion },
        ownVersions(),
      );
    await checkReverseDetails(from, msg);
    const generation = Math.max(msg.generation, existing?.generation ?? 0);
    const rel: RelationshipView = {
      role: 'backup',
      generation,
      self: { name: this.deps.name, address: msg.backupAddress },
      peer: { name: from, address: msg.primaryAddress, fingerprint: msg.primaryFingerprint },
      establishedAt: new Date().toISOString(),
      backupOperationsEnabled: true,
      sync: msg.sync,
    };
    this.store.write({ area: 'system', name: `peer:${from}` }, 'failover.established', rel, {
      role: 'backup',
      generation,
      primary: peerLabel(msg.primaryAddress),
      peerFingerprint: msg.primaryFingerprint,
    });
    return this.claim();
  }

  // ---- Break (S7) ---------------------------------------------------------------------------

  async break(actor: Actor): Promise<{ peerInformed: boolean; reason?: string }> {
    return this.exclusive('breaking the relationship', async () => {
      const rel = this.paired();
      let peerInformed = true;
      let reason: string | undefined;
      try {
        await this.callPeer(rel, '/api/peer/failover/break', {}, BEST_EFFORT_MS);
      } catch (e) {
        peerInformed = false;
        reason = e instanceof Error ? e.message : String(e);
      }
      this.store.write(
        actor,
        'failover.broken',
        undefined,
        {
          formerRole: rel.role,
          generation: rel.generation,
          peerInformed,
          ...(reason ? { reason } : {}),
        },
        rel.peer.name,
      );
      return { peerInformed, ...(reason ? { reason } : {}) };
    });
  }

  acceptBreak(from: string): PeerAnswer {
    const rel = this.store.get();
    if (rel && rel.peer.name === from)
      this.store.write(
        { area: 'system', name: `peer:${from}` },
        'failover.broken',
        undefined,
        {
          formerRole: rel.role,
          generation: rel.generation,
          by: from,
        },
        from,
      );
    return this.claim();
  }

  // ---- Role changes (S25) -------------------------------------------------------------------

  /**
   * Become Backup. Without `force` the peer must first run a final sync and take the primary
   * role; with it (even if the peer site cannot be contacted) the peer is told if it can be.
   */
  async becomeBackup(actor: Actor, force: boolean): Promise<RoleChange> {
    return this.exclusive('becoming the backup', async () => {
      const rel = this.paired();
      if (rel.role === 'backup') return unchanged(rel, 'This appliance is already the backup.');
      return this.changeRole(actor, rel, 'backup', force, '/api/peer/failover/become-primary');
    });
  }

  /**
   * Become Primary. Without `force` the peer must step down to backup first, and a backup whose
   * last sync is older than the set maximum is refused (its data would roll the site back).
   */
  async becomePrimary(actor: Actor, force: boolean): Promise<RoleChange> {
    return this.exclusive('becoming the primary', async () => {
      const rel = this.paired();
      if (rel.role === 'primary') return unchanged(rel, 'This appliance is already the primary.');
      const stale = this.staleness();
      if (stale && !force)
        throw conflict(
          'FAILOVER_BACKUP_STALE',
          `This backup is stale: ${stale}. Sync Now first; to promote it anyway, tick "even if the peer site cannot be contacted" (force).`,
        );
      return this.changeRole(actor, rel, 'primary', force, '/api/peer/failover/become-backup');
    });
  }

  private async changeRole(
    actor: Actor,
    rel: RelationshipView,
    role: 'primary' | 'backup',
    force: boolean,
    peerPath: string,
  ): Promise<RoleChange> {
    let generation = rel.generation + 1;
    let peerInformed = true;
    let reason: string | undefined;
    // Stepping down releases what follows the primary first: the peer takes it over next.
    if (role === 'backup') await this.follow(actor, 'backup');
    try {
      const answer = await this.callPeer(
        rel,
        peerPath,
        { newGeneration: generation, finalSync: !force && role === 'backup' },
        force ? BEST_EFFORT_MS : undefined,
      );
      generation = Math.max(generation, answer.generation);
    } catch (e) {
      if (!force) {
        if (role === 'backup') await this.follow(actor, rel.role);
        const err = asAdminError(e);
        throw new GatehouseError(
          err.code,
          err.status,
          `${err.message} Nothing was changed. To change roles anyway, tick "even if the peer site cannot be contacted" (force).`,
        );
      }
      peerInformed = false;
      reason = e instanceof Error ? e.message : String(e);
    }
    const next: RelationshipView = { ...rel, role, generation };
    this.store.write(
      actor,
      role === 'primary' ? 'failover.became-primary' : 'failover.became-backup',
      next,
      {
        from: rel.role,
        generation,
        force,
        peerInformed,
        ...(reason ? { reason } : {}),
      },
    );
    await this.follow(actor, role);
    return { changed: true, role, generation, peerInformed, ...(reason ? { reason } : {}) };
  }

  /** The peer asks this appliance to take the role it gives up (after a final sync if asked). */
  async acceptRole(from: string, role: 'primary' | 'backup', body: unknown): Promise<PeerAnswer> {
    const req = RoleRequest.parse(body);
    this.observe(from, req);
    let rel = this.peerOf(from);
    if (role === 'primary' && req.finalSync && rel.role === 'backup') {
      await this.deps.sync()?.syncNow(rel);
      rel = this.peerOf(from);
    }
    if (rel.role === role) return this.claim();
    const generation = Math.max(req.newGeneration, rel.generation + 1);
    const actor: Actor = { area: 'system', name: `peer:${from}` };
    this.store.write(
      actor,
      role === 'primary' ? 'failover.became-primary' : 'failover.became-backup',
      { ...rel, role, generation },
      { from: rel.role, generation, askedBy: from, finalSync: req.finalSync },
    );
    await this.follow(actor, role);
    return this.claim();
  }

  /** Why this backup is too stale to promote (maximum sync age), or undefined. */
  staleness(now = Date.now()): string | undefined {
    const max = this.store.automatic().maximumSyncAgeSeconds;
    if (max === null || this.store.get()?.role !== 'backup') return undefined;
    const last = this.lastSync()?.finishedAt;
    if (!last) return `no sync has completed here, and the maximum sync age is ${max} s`;
    if (now - Date.parse(last) <= max * 1000) return undefined;
    return `its last sync completed at ${last}, longer ago than the maximum sync age of ${max} s`;
  }

  /** Automatic failover: the backup takes the primary role on its own, with the reason. */
  takeOver(reason: string): boolean {
    const rel = this.store.get();
    if (!rel || rel.role !== 'backup' || this.busy) return false;
    const generation = rel.generation + 1;
    this.store.write(
      SYSTEM,
      'failover.automatic-takeover',
      { ...rel, role: 'primary', generation },
      {
        from: 'backup',
        generation,
        reason,
      },
    );
    void this.follow(SYSTEM, 'primary');
    return true;
  }

  /**
   * The sync interval (S15), changed on either appliance: the peer is told first (whichever is
   * backup pulls on it, and roles swap), so an unreachable peer changes nothing.
   */
  async setSyncInterval(actor: Actor, seconds: number): Promise<RelationshipView> {
    return this.exclusive('changing the sync interval', async () => {
      const rel = this.paired();
      const intervalMs = seconds * 1000;
      if (rel.sync.intervalMs === intervalMs) return rel;
      try {
        await this.callPeer(
          rel,
          '/api/peer/failover/sync-interval',
          { intervalMs },
          BEST_EFFORT_MS,
        );
      } catch (e) {
        const err = asAdminError(e);
        throw new GatehouseError(
          err.code,
          err.status,
          `${err.message} The sync interval was not changed: both appliances keep it, so change it when "${rel.peer.name}" answers.`,
        );
      }
      return this.writeSyncInterval(actor, rel, intervalMs);
    });
  }

  acceptSyncInterval(from: string, body: unknown): PeerAnswer {
    const msg = SyncIntervalMessage.parse(body);
    this.observe(from, msg);
    this.writeSyncInterval(
      { area: 'system', name: `peer:${from}` },
      this.peerOf(from),
      msg.intervalMs,
    );
    return this.claim();
  }

  private writeSyncInterval(actor: Actor, rel: RelationshipView, intervalMs: number) {
    const next = { ...rel, sync: { ...rel.sync, intervalMs } };
    this.store.write(actor, 'failover.sync-interval', next, { seconds: intervalMs / 1000 });
    return next;
  }

  setBackupOperations(actor: Actor, enabled: boolean): RelationshipView {
    const rel = this.paired();
    if (rel.backupOperationsEnabled === enabled) return rel;
    const next = { ...rel, backupOperationsEnabled: enabled };
    this.store.write(actor, 'failover.backup-operations', next, { enabled });
    return next;
  }

  // ---- Generations --------------------------------------------------------------------------

  private peerOf(from: string): RelationshipView {
    const rel = this.store.get();
    if (!rel || rel.peer.name !== from)
      throw conflict(
        'FAILOVER_NOT_PEER',
        rel
          ? `"${this.deps.name}" is in a failover relationship with "${rel.peer.name}", not with "${from}".`
          : `"${this.deps.name}" is not in a failover relationship (it was broken here). Establish it again from the primary.`,
      );
    return rel;
  }

  /**
   * Learn from what the peer claims. A peer that is primary at a higher generation replaced
   * this appliance: if this one still believes it is primary, it steps down to backup.
   */
  observe(from: string, claim: PeerClaim): void {
    const rel = this.store.get();
    if (!rel || rel.peer.name !== from || claim.generation <= rel.generation) return;
    if (claim.role === 'primary' && rel.role === 'primary') {
      this.store.write(
        SYSTEM,
        'failover.stepped-down',
        { ...rel, role: 'backup', generation: claim.generation },
        {
          from: 'primary',
          generation: claim.generation,
          reason: `"${from}" became primary at generation ${claim.generation} while this appliance was primary at generation ${rel.generation}: it was replaced, so it serves as backup (no two primaries).`,
        },
      );
      void this.follow(SYSTEM, 'backup');
    } else if (claim.role !== 'standalone') {
      this.store.write(
        SYSTEM,
        'failover.generation-learned',
        { ...rel, generation: claim.generation },
        {
          generation: claim.generation,
          peerRole: claim.role,
        },
      );
    }
  }

  /** The peer's heartbeat: learn its generation, answer with ours. */
  acceptHeartbeat(from: string, body: unknown): PeerAnswer {
    this.observe(from, PeerClaim.parse(body));
    this.peerOf(from);
    return this.claim();
  }

  /** Contact the peer (heartbeat), learn from its answer; never throws. */
  async contactPeer(timeoutMs = 3_000): Promise<PeerState> {
    const rel = this.store.get();
    const checkedAt = new Date().toISOString();
    if (!rel)
      return {
        reachable: false,
        checkedAt,
        error: { code: 'FAILOVER_NOT_PAIRED', message: 'standalone' },
      };
    try {
      const answer = await this.callPeer(rel, '/api/peer/failover/heartbeat', {}, timeoutMs);
      this.observe(rel.peer.name, { role: answer.role, generation: answer.generation });
      return { reachable: true, checkedAt, role: answer.role, generation: answer.generation };
    } catch (e) {
      const err = isGatehouseError(e)
        ? { code: e.code, message: e.message }
        : { code: 'FAILOVER_PEER_UNREACHABLE', message: String(e) };
      return { reachable: false, checkedAt, error: err };
    }
  }
}

export interface RoleChange {
  changed: boolean;
  role: FailoverRole;
  generation: number;
  peerInformed?: boolean;
  reason?: string;
  message?: string;
}

function unchanged(rel: RelationshipView, message: string): RoleChange {
  return { changed: false, role: rel.role, generation: rel.generation, message };
}
