import { conflict, isGatehouseError, type GatehouseError } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import { PeerClaim, type AutomaticFailover, type EstablishInput } from './relationship-schemas.js';
import type { RelationshipStore } from './relationship-store.js';
import { RelationshipCore } from './relationship-core.js';
import { acceptBreak, acceptJoin, breakRelationship, establish } from './relationship-pairing.js';
import { RelationshipRoles } from './relationship-roles.js';
import { FailoverMonitor } from './failover-monitor.js';
import { ScheduledSwitchover } from './scheduled-switchover.js';
import type { Quorum, WitnessView } from './quorum.js';
import { acknowledgement, SyncBarrier } from './replication.js';
import type {
  FailoverRole,
  PairSyncStatus,
  PeerAnswer,
  PeerState,
  RelationshipDeps,
  RoleChange,
  SyncProgressView,
} from './relationship-types.js';
import type { RelationshipView, SyncResult } from './types.js';
import { failoverErrors } from './error-codes.js';

export type * from './relationship-types.js';

/**
 * The failover relationship state machine (S14, S7, S25): establish from the intended primary,
 * break from either side, planned and forced role changes. Roles carry a generation raised by
 * every role change; whoever learns that the peer became primary at a higher generation than
 * its own steps down, so an old primary that returns never serves beside the new one.
 *
 * This class is the one face of the relationship; its parts live beside it: pairing
 * (relationship-pairing.ts: establish, break), roles (relationship-roles.ts), the generation
 * rules (generations.ts, pure) and what they share (relationship-core.ts).
 */
export class FailoverRelationship {
  readonly store: RelationshipStore;
  readonly monitor: FailoverMonitor;
  /** A planned Become Primary this backup performs itself at a set time. */
  readonly scheduled: ScheduledSwitchover;
  private readonly core: RelationshipCore;
  private readonly roles: RelationshipRoles;
  /** With a witness, a change is acknowledged once a sync that started after it completed. */
  private readonly barrier = new SyncBarrier(async () => {
    const rel = this.store.get();
    if (rel?.role === 'primary') await this.deps.sync()?.syncNow(rel, true);
  });

  /** The highest change acknowledged while the backup was cut off, until it pulled it (or 0). */
  private unpulled = 0;
  private catchingUp = false;

  constructor(private readonly deps: RelationshipDeps) {
    this.core = new RelationshipCore(deps);
    this.store = this.core.store;
    this.roles = new RelationshipRoles(this.core);
    this.monitor = new FailoverMonitor(this, deps.events, deps.active);
    this.monitor.start();
    this.scheduled = new ScheduledSwitchover({
      store: this.store,
      events: deps.events,
      paired: () => this.core.paired(),
      becomePrimary: (actor, force) => this.becomePrimary(actor, force),
      active: deps.active,
    });
    this.scheduled.start();
  }

  get quorum(): Quorum {
    return this.core.quorum;
  }

  /** A primary with a witness that holds neither its lease nor the backup's promise. */
  fenced(): boolean {
    return !this.core.quorum.mayServe();
  }

  /**
   * Whether a change of site data just made may be acknowledged (replication.ts): with a
   * witness, once the backup has it and while this primary still may serve.
   */
  acknowledgeWrite(): Promise<GatehouseError | undefined> {
    return acknowledgement({
      waits: () => this.role === 'primary' && this.core.quorum.configured() && !!this.deps.sync(),
      count: () => this.deps.sync()!.countChange(),
      backupReachable: () => this.monitor.last?.reachable !== false,
      keepAlone: (change) => {
        const rel = this.core.paired();
        this.unpulled = Math.max(this.unpulled, change);
        return this.core.quorum.keepAlone(rel, change);
      },
      fenced: () => this.fenced(),
      waitMs: () => this.core.quorum.leaseLength(),
      barrier: this.barrier,
      peer: () => this.store.get()?.peer.name ?? 'the backup',
    });
  }

  /**
   * The backup answers again after changes were acknowledged without it: have it pull them
   * now, so it may take over (the witness refuses it until it has them) sooner than at its
   * next periodic sync.
   */
  catchUp(): void {
    if (!this.unpulled || this.catchingUp || this.role !== 'primary') return;
    const upTo = this.unpulled;
    this.catchingUp = true;
    this.barrier
      .after()
      .then(() => {
        if (this.unpulled <= upTo) this.unpulled = 0;
      })
      .catch(() => undefined) // the next heartbeat answered tries again
      .finally(() => (this.catchingUp = false));
  }

  /** The witness, asked now: whether it answers and who holds the lease (null without one). */
  witnessView(): Promise<WitnessView | null> {
    const rel = this.store.get();
    return rel ? this.core.quorum.witnessView(rel) : Promise.resolve(null);
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
    // Both loops run at the pace of the old settings (a heartbeat every 5 s without automatic
    // failover): a loss in the first seconds after enabling it went unseen until then.
    this.monitor.again();
    this.quorum.again();
    return this.store.automatic();
  }

  lastSync(): SyncResult | null {
    return this.roles.lastSync();
  }

  /**
   * Sync Now (S7, S15): on the backup, pull from the primary; on the primary, ask the backup to
   * pull and wait for its result.
   */
  async syncNow(actor: Actor): Promise<SyncResult> {
    const rel = this.core.paired();
    const sync = this.deps.sync();
    if (!sync)
      throw conflict(
        failoverErrors.SYNC_UNAVAILABLE,
        'This appliance has no synchronisation service running.',
      );
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
      const answer = await this.core.callPeer<
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
        error: peerError(e),
      };
    }
  }

  // Pairing (S14, S7): relationship-pairing.ts.
  establish(actor: Actor, input: EstablishInput): Promise<RelationshipView> {
    return establish(this.core, actor, input);
  }

  acceptJoin(from: string, body: unknown): Promise<PeerAnswer> {
    return acceptJoin(this.core, from, body);
  }

  break(actor: Actor): Promise<{ peerInformed: boolean; reason?: string }> {
    return breakRelationship(this.core, actor);
  }

  acceptBreak(from: string): PeerAnswer {
    return acceptBreak(this.core, from);
  }

  // Roles (S25) and shared settings (S15): relationship-roles.ts.
  becomeBackup(actor: Actor, force: boolean): Promise<RoleChange> {
    return this.roles.becomeBackup(actor, force);
  }

  becomePrimary(actor: Actor, force: boolean): Promise<RoleChange> {
    return this.roles.becomePrimary(actor, force);
  }

  acceptRole(from: string, role: 'primary' | 'backup', body: unknown): Promise<PeerAnswer> {
    return this.roles.acceptRole(from, role, body);
  }

  staleness(now = Date.now()): string | undefined {
    return this.roles.staleness(now);
  }

  /** With a witness, `granted` is the generation the witness granted the lease for. */
  takeOver(reason: string, granted?: number): boolean {
    return this.roles.takeOver(reason, granted);
  }

  setSyncInterval(actor: Actor, seconds: number): Promise<RelationshipView> {
    return this.roles.setSyncInterval(actor, seconds);
  }

  acceptSyncInterval(from: string, body: unknown): PeerAnswer {
    return this.roles.acceptSyncInterval(from, body);
  }

  setBackupOperations(actor: Actor, enabled: boolean): RelationshipView {
    return this.roles.setBackupOperations(actor, enabled);
  }

  // Generations: the rules are in generations.ts.
  observe(from: string, claim: PeerClaim): void {
    this.core.observe(from, claim);
  }

  /** The peer's heartbeat: learn its generation, answer with ours. */
  acceptHeartbeat(from: string, body: unknown): PeerAnswer {
    this.core.observe(from, PeerClaim.parse(body));
    this.core.peerOf(from);
    return this.core.claim();
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
      const path = '/api/peer/failover/heartbeat';
      const answer = await this.core.callPeer(rel, path, {}, timeoutMs);
      this.core.observe(rel.peer.name, { role: answer.role, generation: answer.generation });
      return { reachable: true, checkedAt, role: answer.role, generation: answer.generation };
    } catch (e) {
      return { reachable: false, checkedAt, error: peerError(e) };
    }
  }
}

const peerError = (e: unknown) =>
  isGatehouseError(e)
    ? { code: e.code, message: e.message }
    : { code: 'FAILOVER_PEER_UNREACHABLE', message: String(e) };
