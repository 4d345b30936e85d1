import type { Db } from '../../store/db.js';
import type { BlobStore } from '../../store/blobs.js';
import { GatehouseError } from '../../shared/errors.js';
import { SYSTEM } from '../../shared/actor.js';
import type { EventLog } from '../../site/events.js';
import { PeerClient, type PeerAddress } from '../peer-client.js';
import type { RelationshipView, SyncResult } from '../types.js';
import type { RunRequest, SyncMode } from './protocol.js';
import { SitePuller, type HistoryMarks, type SyncProgress } from './puller.js';
import { SyncPositions, type SyncedPosition } from './positions.js';
import { HistoryHasher } from './history-hasher.js';
import { RowHasher } from './row-hasher.js';
import { SyncSource } from './source.js';
import { readApplianceSetting, writeApplianceSetting } from '../../store/appliance-settings.js';
import { failoverErrors } from '../error-codes.js';

export interface SyncServiceDeps {
  db: Db;
  blobs: BlobStore;
  events: EventLog;
  /** This appliance's name and certificate fingerprint (sent when asking a backup to pull). */
  name: string;
  fingerprint: string;
  interApplianceKey: () => string;
  /** Revocations so far (users, Jump Client installations): a primary has its backup pull. */
  revocations: () => number;
}

const LAST_RESULT_KEY = 'failover.sync.last';
const TICK_MS = 250;
/** A backup that could not be asked to pull a revocation is asked again this much later. */
const REVOCATION_RETRY_MS = 2_000;

const idle = (): SyncProgress => ({
  phase: 'idle',
  rows: { done: 0, total: 0 },
  blobs: { done: 0, total: 0, bytes: 0 },
});

/**
 * Failover synchronisation (S15, S16, S21). The backup pulls the primary's site data: users,
 * /login settings and the file store become the primary's; logs, session records and
 * recordings are merged by identity. On the primary, Sync Now asks the backup to pull and
 * waits for its result. One sync runs at a time; its progress and the last result are kept for
 * the Failover page.
 */
export class SyncService {
  readonly source: SyncSource;
  /** This appliance's change count (as a primary) and how far it synced (as a backup). */
  readonly positions: SyncPositions;
  private readonly hasher: RowHasher;
  private state: SyncProgress = idle();
  private last: SyncResult | undefined;
  private running: { key: string; promise: Promise<SyncResult> } | undefined;
  private getRelationship: (() => RelationshipView | undefined) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastAttemptAt = 0;
  /** Revocations the backup has pulled (as far as this primary knows), and the last ask. */
  private revocationsSynced: number | undefined;
  private revocationAsk: { at: number; running: boolean } = { at: 0, running: false };
  private peer: { key: string; client: PeerClient } | undefined;
  /** Per peer fingerprint: how far its history is known to be here (see `HistoryMarks`). */
  private readonly marks = new Map<string, HistoryMarks>();

  constructor(private readonly deps: SyncServiceDeps) {
    this.hasher = new RowHasher(deps.db);
    this.positions = new SyncPositions(deps.db);
    this.source = new SyncSource(deps.db, this.hasher, new HistoryHasher(deps.db), deps.name, () =>
      this.positions.changes(),
    );
    this.last = readApplianceSetting<SyncResult>(deps.db, LAST_RESULT_KEY);
  }

  /** What the sync in progress (or the last one) is doing, for the Failover page. */
  get progress(): SyncProgress {
    return structuredClone(this.state);
  }

  get lastResult(): SyncResult | undefined {
    return this.last;
  }

  /** Number a change of site data just made here (a primary's; see positions.ts). */
  countChange(): number {
    return this.positions.countChange();
  }

  /** How far this appliance has mirrored a primary's changes. */
  syncedThrough(): SyncedPosition | undefined {
    return this.positions.syncedThrough();
  }

  /**
   * Sync Now. On the backup: pull from the primary. On the primary: ask the backup to pull
   * now and wait for its result.
   */
  async syncNow(rel: RelationshipView, fresh = false): Promise<SyncResult> {
    const peer = this.peerClient(rel);
    if (rel.role === 'backup') return this.pullFrom(peer, 'mirror', fresh);
    const request: RunRequest = {
      mode: 'mirror',
      fresh,
      peer: { name: rel.self.name, address: rel.self.address, fingerprint: this.deps.fingerprint },
    };
    return peer.call<SyncResult>('POST', '/api/peer/sync/run', request);
  }

  /** Pull from a peer; a second request for the same pull while it runs waits for it. */
  async pullFrom(peer: PeerClient, mode: SyncMode, fresh = false): Promise<SyncResult> {
    const key = `${mode} ${peer.label} ${peer.fingerprint}`;
    if (this.running?.key === key && !fresh) return this.running.promise;
    while (this.running) await this.running.promise.catch(() => undefined);
    const promise = this.run(peer, mode);
    this.running = { key, promise };
    try {
      return await promise;
    } finally {
      this.running = undefined;
    }
  }

  /**
   * A peer asks this appliance to pull from it now (Sync Now on the primary, or the history
   * merge when a relationship is re-established). Mirroring is refused when this appliance's
   * relationship says it is not the backup of that peer.
   */
  async runRequested(from: string, req: RunRequest): Promise<SyncResult> {
    const rel = this.getRelationship?.();
    if (
      req.mode === 'mirror' &&
      rel &&
      (rel.role !== 'backup' || rel.peer.fingerprint !== req.peer.fingerprint)
    )
      throw failoverErrors.SYNC_NOT_BACKUP(
        `"${from}" asked this appliance to take its site data, but this appliance is ${rel.role === 'backup' ? `the backup of ${rel.peer.name}` : 'the primary'}. Sync from the primary of this appliance's relationship.`,
      );
    if (req.mode === 'mirror' && rel) return this.syncNow(rel, req.fresh);
    const peer = new PeerClient(
      req.peer.address,
      req.peer.fingerprint,
      this.deps.interApplianceKey,
      this.deps.name,
    );
    try {
      return await this.pullFrom(peer, req.mode);
    } finally {
      await peer.close();
    }
  }

  /**
   * Periodic sync on a backup with backup operations enabled: the first `firstAfterMs` after
   * the relationship was established, then every `intervalMs` after the last attempt.
   */
  start(getRelationship: () => RelationshipView | undefined): void {
    this.getRelationship = getRelationship;
    this.stop();
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    const rel = this.getRelationship?.();
    if (rel?.role === 'primary') return this.propagateRevocations(rel);
    if (!rel || rel.role !== 'backup' || !rel.backupOperationsEnabled || this.running) return;
    const establishedAt = Date.parse(rel.establishedAt);
    const due =
      this.lastAttemptAt < establishedAt
        ? establishedAt + rel.sync.firstAfterMs
        : this.lastAttemptAt + rel.sync.intervalMs;
    if (Date.now() < due) return;
    // Failures are in the event log and in `progress`; the next attempt comes at the interval.
    await this.syncNow(rel).catch(() => undefined);
  }

  /**
   * A user disabled, deleted or given a new password, a Jump Client installation revoked: the
   * primary has its backup pull now rather than at the next periodic sync, so a takeover within
   * that interval does not bring the revoked client back.
   */
  private async propagateRevocations(rel: RelationshipView): Promise<void> {
    const n = this.deps.revocations();
    this.revocationsSynced ??= n;
    const ask = this.revocationAsk;
    if (n === this.revocationsSynced || ask.running || Date.now() < ask.at + REVOCATION_RETRY_MS)
      return;
    ask.running = true;
    ask.at = Date.now();
    try {
      await this.syncNow(rel);
      this.revocationsSynced = n;
    } catch {
      // In the event log (the backup's); asked again after REVOCATION_RETRY_MS.
    } finally {
      ask.running = false;
    }
  }

  private peerClient(rel: RelationshipView): PeerClient {
    const key = `${rel.peer.address.host}:${rel.peer.address.port} ${rel.peer.fingerprint}`;
    if (this.peer?.key !== key) {
      void this.peer?.client.close();
      this.peer = { key, client: this.newClient(rel.peer.address, rel.peer.fingerprint) };
    }
    return this.peer.client;
  }

  private newClient(address: PeerAddress, fingerprint: string): PeerClient {
    return new PeerClient(address, fingerprint, this.deps.interApplianceKey, this.deps.name);
  }

  private async run(peer: PeerClient, mode: SyncMode): Promise<SyncResult> {
    const started = Date.now();
    this.lastAttemptAt = started;
    this.state = {
      ...idle(),
      phase: 'manifest',
      mode,
      from: peer.label,
      startedAt: new Date(started).toISOString(),
    };
    let marks = this.marks.get(peer.fingerprint);
    if (!marks) this.marks.set(peer.fingerprint, (marks = { syncs: 0, tables: {} }));
    const puller = new SitePuller(this.deps.db, this.deps.blobs, this.hasher, this.state, marks);
    try {
      const outcome = await puller.pull(peer, mode);
      const finished = Date.now();
      const result: SyncResult = {
        startedAt: new Date(started).toISOString(),
        finishedAt: new Date(finished).toISOString(),
        from: peer.label,
        rows: outcome.rows,
        blobs: outcome.blobs,
        digest: outcome.digest,
        ms: finished - started,
      };
      this.state.phase = 'done';
      this.deps.db.transaction(() => {
        this.deps.events.record(SYSTEM, 'failover.sync', peer.label, {
          mode,
          ...outcome,
          ms: result.ms,
        });
        writeApplianceSetting(this.deps.db, LAST_RESULT_KEY, result);
        if (mode === 'mirror' && outcome.through) this.positions.synced(outcome.through);
      })();
      this.last = result;
      return result;
    } catch (e) {
      const error =
        e instanceof GatehouseError
          ? { code: e.code, message: e.message }
          : { code: 'SYNC_FAILED', message: (e as Error).message };
      this.state.phase = 'failed';
      this.state.error = error;
      this.deps.events.record(
        SYSTEM,
        'failover.sync',
        peer.label,
        { mode, ...error, ms: Date.now() - started },
        'failed',
      );
      throw e;
    }
  }
}

export type { SyncProgress };
