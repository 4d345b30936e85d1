import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { GatehouseError, conflict } from '../shared/errors.js';
import { SYSTEM, type Actor } from '../shared/actor.js';
import { RoleRequest, SyncIntervalMessage } from './relationship-schemas.js';
import { asAdminError, BEST_EFFORT_MS } from './relationship-errors.js';
import { acceptedGeneration, nextGeneration, settledGeneration } from './generations.js';
import { peerActor, type RelationshipCore } from './relationship-core.js';
import type { PeerAnswer, RoleChange } from './relationship-types.js';
import type { RelationshipView, SyncResult } from './types.js';
import { failoverErrors } from './error-codes.js';

/** Where the peer that took the primary role said clients reach it (anything else: ignored). */
const ClientAddressAnswer = z.object({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535),
});

/**
 * Role changes (S25) and the settings both sides of the pair share (the sync interval, S15).
 * Planned changes ask the peer first; forced ones go ahead if it cannot be contacted.
 */
export class RelationshipRoles {
  constructor(private readonly core: RelationshipCore) {}

  /**
   * Become Backup. Without `force` the peer must first run a final sync and take the primary
   * role; with it (even if the peer site cannot be contacted) the peer is told if it can be.
   */
  becomeBackup(actor: Actor, force: boolean): Promise<RoleChange> {
    return this.core.exclusive('becoming the backup', async () => {
      const rel = this.core.paired();
      if (rel.role === 'backup') return unchanged(rel, 'This appliance is already the backup.');
      return this.changeRole(actor, rel, 'backup', force, '/api/peer/failover/become-primary');
    });
  }

  /**
   * Become Primary. Without `force` the peer must step down to backup first, and a backup whose
   * last sync is older than the set maximum is refused (its data would roll the site back).
   */
  becomePrimary(actor: Actor, force: boolean): Promise<RoleChange> {
    return this.core.exclusive('becoming the primary', async () => {
      const rel = this.core.paired();
      if (rel.role === 'primary') return unchanged(rel, 'This appliance is already the primary.');
      const stale = this.staleness();
      if (stale && !force)
        throw conflict(
          failoverErrors.FAILOVER_BACKUP_STALE,
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
    const core = this.core;
    let generation = nextGeneration(rel);
    let peerInformed = true;
    let reason: string | undefined;
    let peerTook = false;
    let clientsReach: { host: string; port: number } | undefined;
    // Stepping down releases what follows the primary first: the peer takes it over next. The
    // clients stay until it has: sent now, they would find no primary to accept them.
    if (role === 'backup') await core.follow(actor, 'backup', 'stay');
    try {
      const answer = await core.callPeer(
        rel,
        peerPath,
        {
          newGeneration: generation,
          finalSync: !force && role === 'backup',
          // Handing the role over: this appliance will not take it back for a lease length.
          ...(role === 'backup' ? core.quorum.promise() : {}),
        },
        force ? BEST_EFFORT_MS : undefined,
      );
      generation = settledGeneration(generation, answer.generation);
      peerTook = answer.role === 'primary';
      clientsReach = ClientAddressAnswer.safeParse(answer.clientAddress).data;
    } catch (e) {
      if (!force) {
        if (role === 'backup') await core.follow(actor, rel.role);
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
    core.store.write(
      actor,
      role === 'primary' ? 'failover.became-primary' : 'failover.became-backup',
      next,
      { from: rel.role, generation, force, peerInformed, ...(reason ? { reason } : {}) },
    );
    // The peer took the primary role: the clients go straight there (with the tickets they
    // hold), not through the site's name, which may still lead here: to the address it said
    // clients reach it at, else to its address here (S14; a client that cannot reach it goes
    // through the site after a few seconds).
    const { name, address, fingerprint } = rel.peer;
    await core.follow(
      actor,
      role,
      peerTook ? { to: { node: name, ...(clientsReach ?? address), fingerprint } } : undefined,
    );
    return { changed: true, role, generation, peerInformed, ...(reason ? { reason } : {}) };
  }

  /** The peer asks this appliance to take the role it gives up (after a final sync if asked). */
  async acceptRole(from: string, role: 'primary' | 'backup', body: unknown): Promise<PeerAnswer> {
    const core = this.core;
    const receivedAt = performance.now();
    const req = RoleRequest.parse(body);
    core.observe(from, req);
    let rel = core.peerOf(from);
    if (role === 'primary' && req.finalSync && rel.role === 'backup') {
      await core.deps.sync()?.syncNow(rel);
      rel = core.peerOf(from);
    }
    // Taking the primary role: where clients reach it, for the peer to send its clients there.
    const reach = role === 'primary' ? core.deps.clientAddress?.() : undefined;
    const answer = (): PeerAnswer => ({
      ...core.claim(),
      ...(reach ? { clientAddress: reach } : {}),
    });
    if (rel.role === role) return answer();
    const generation = acceptedGeneration(req.newGeneration, rel);
    const actor = peerActor(from);
    core.store.write(
      actor,
      role === 'primary' ? 'failover.became-primary' : 'failover.became-backup',
      { ...rel, role, generation },
      { from: rel.role, generation, askedBy: from, finalSync: req.finalSync },
    );
    if (role === 'primary') core.quorum.noteHandover(receivedAt, req.promiseMs);
    await core.follow(actor, role);
    return answer();
  }

  lastSync(): SyncResult | null {
    return this.core.deps.sync()?.lastResult ?? null;
  }

  /** Why this backup is too stale to promote (maximum sync age), or undefined. */
  staleness(now = Date.now()): string | undefined {
    const store = this.core.store;
    const max = store.automatic().maximumSyncAgeSeconds;
    if (max === null || store.get()?.role !== 'backup') return undefined;
    const last = this.lastSync()?.finishedAt;
    if (!last) return `no sync has completed here, and the maximum sync age is ${max} s`;
    if (now - Date.parse(last) <= max * 1000) return undefined;
    return `its last sync completed at ${last}, longer ago than the maximum sync age of ${max} s`;
  }

  /** Automatic failover: the backup takes the primary role on its own, with the reason. */
  takeOver(reason: string, granted?: number): boolean {
    const rel = this.core.store.get();
    if (!rel || rel.role !== 'backup' || this.core.busy) return false;
    const generation = nextGeneration(rel);
    // With a witness: the lease was granted for this generation, and no promise to the primary
    // runs (one given in an answer since the monitor looked would be broken by taking over).
    if (granted !== undefined && (granted !== generation || this.core.quorum.promiseLeft()))
      return false;
    this.core.store.write(
      SYSTEM,
      'failover.automatic-takeover',
      { ...rel, role: 'primary', generation },
      { from: 'backup', generation, reason },
    );
    void this.core.follow(SYSTEM, 'primary');
    return true;
  }

  /**
   * The sync interval (S15), changed on either appliance: the peer is told first (whichever is
   * backup pulls on it, and roles swap), so an unreachable peer changes nothing.
   */
  setSyncInterval(actor: Actor, seconds: number): Promise<RelationshipView> {
    return this.core.exclusive('changing the sync interval', async () => {
      const rel = this.core.paired();
      const intervalMs = seconds * 1000;
      if (rel.sync.intervalMs === intervalMs) return rel;
      try {
        const path = '/api/peer/failover/sync-interval';
        await this.core.callPeer(rel, path, { intervalMs }, BEST_EFFORT_MS);
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
    this.core.observe(from, msg);
    this.writeSyncInterval(peerActor(from), this.core.peerOf(from), msg.intervalMs);
    return this.core.claim();
  }

  private writeSyncInterval(actor: Actor, rel: RelationshipView, intervalMs: number) {
    const next = { ...rel, sync: { ...rel.sync, intervalMs } };
    this.core.store.write(actor, 'failover.sync-interval', next, { seconds: intervalMs / 1000 });
    return next;
  }

  setBackupOperations(actor: Actor, enabled: boolean): RelationshipView {
    const rel = this.core.paired();
    if (rel.backupOperationsEnabled === enabled) return rel;
    const next = { ...rel, backupOperationsEnabled: enabled };
    this.core.store.write(actor, 'failover.backup-operations', next, { enabled });
    return next;
  }
}

function unchanged(rel: RelationshipView, message: string): RoleChange {
  return { changed: false, role: rel.role, generation: rel.generation, message };
}
