import { performance } from 'node:perf_hooks';
import { isGatehouseError } from '../shared/errors.js';
import { Repeating } from '../shared/repeat.js';
import { PeerClient, peerLabel } from './peer-client.js';
import { withTimeout } from './relationship-errors.js';
import type { PeerClaim, WitnessConfig } from './relationship-schemas.js';
import type { SyncedPosition } from './sync/positions.js';
import type { RelationshipView } from './types.js';
import {
  WITNESS_LEASE_PATH,
  WITNESS_STATUS_PATH,
  type LeaseAnswer,
  type LeaseStatus,
} from './witness-leases.js';

/**
 * A lease is trusted locally for this share of its length, counted from when it was asked for:
 * the rest covers clock rate drift between the hosts (well under 1 %) and the time a write
 * that passed the check takes to be acknowledged.
 */
export const LEASE_TRUST = 0.8;

export interface QuorumDeps {
  name: string;
  key: () => string;
  view: () => RelationshipView | undefined;
  /** The witness, when automatic failover is on and has one: else no lease rules apply. */
  witness: () => WitnessConfig | null;
  active: () => boolean;
  /** How far this appliance has mirrored its primary (shown to the witness when it asks). */
  synced: () => SyncedPosition | undefined;
  /** The primary started or stopped serving (with the reason and, stopping, since when). */
  changed: (serving: boolean, reason: string, since?: string) => void;
}

/** The witness as the Failover page shows it: whether it answers and who holds the lease. */
export interface WitnessView extends Partial<LeaseStatus> {
  address: string;
  reachable: boolean;
  /** When the witness last answered this appliance (ISO), if it ever did. */
  lastContactAt: string | null;
  /** Whether this appliance holds the lease now (a primary, by its own clock). */
  holdsLease: boolean;
  error?: string;
}

const now = () => performance.now();
const wallClockOf = (at: number) => new Date(Date.now() - (now() - at)).toISOString();

/**
 * Three votes decide which appliance of a pair serves: the two appliances and a witness
 * (docs/failover.md). A primary serves only while it holds one vote besides its own: the
 * witness's lease, or the backup's promise not to take over (given in its answers to the
 * primary's heartbeats). A backup takes over only with the witness's lease, which the witness
 * grants to no one else while the primary renews it, and never while its own promise runs.
 */
export class Quorum {
  private witnessUntil = 0;
  private peerUntil = 0;
  private promisedUntil = 0;
  private serving: boolean | undefined;
  private readonly loop = new Repeating(
    () => this.round(),
    () => this.next(),
  );
  private client: { key: string; client: PeerClient } | undefined;
  /** Why the last renewal failed (for the reason of a fence). */
  private lastFailure = 'no renewal yet';
  /** As primary at `generation`: the highest change acknowledged while the backup was cut off. */
  private alone: { generation: number; change: number } | undefined;
  private lastContactAt: number | undefined;

  constructor(private readonly deps: QuorumDeps) {}

  private leaseMs(): number | undefined {
    const w = this.deps.witness();
    return w ? Math.round(w.leaseSeconds * 1000) : undefined;
  }

  configured(): boolean {
    return this.leaseMs() !== undefined;
  }

  /** The lease length (ms), or 0 without a witness. */
  leaseLength(): number {
    return this.leaseMs() ?? 0;
  }

  /** Whether this appliance may accept changes as primary now (always, without a witness). */
  mayServe(at = now()): boolean {
    if (this.leaseMs() === undefined || this.deps.view()?.role !== 'primary') return true;
    return this.witnessUntil > at || this.peerUntil > at;
  }

  /** When a primary with a witness stopped holding a vote (wall clock), if it holds none now. */
  ranOutAt(): string | undefined {
    if (this.mayServe()) return undefined;
    return wallClockOf(Math.max(this.witnessUntil, this.peerUntil));
  }

  /** On a backup: promise the primary not to take over for a lease length from now. */
  promise(): Pick<PeerClaim, 'promiseMs'> {
    const ms = this.leaseMs();
    if (ms === undefined) return {};
    this.promisedUntil = Math.max(this.promisedUntil, now() + ms);
    return { promiseMs: ms };
  }

  /** On a backup: how long its promise to the primary still runs (ms, 0 when none). */
  promiseLeft(): number {
    return Math.max(0, this.promisedUntil - now());
  }

  /** An answer of the peer to a call sent at `sentAt`: a backup's promise counts from then. */
  noteAnswer(sentAt: number, claim: PeerClaim): void {
    if (claim.role === 'backup' && claim.promiseMs)
      this.peerUntil = Math.max(this.peerUntil, sentAt + claim.promiseMs * LEASE_TRUST);
  }

  /**
   * The old primary handed this appliance the role and promised, when it sent the request,
   * not to take it back: counted from when the request arrived, so a request that took more
   * than the untrusted share of the lease to arrive would be unsafe (docs/failover.md).
   */
  noteHandover(receivedAt: number, promiseMs: number | undefined): void {
    if (promiseMs) this.peerUntil = Math.max(this.peerUntil, receivedAt + promiseMs * LEASE_TRUST);
  }

  private witnessClient(w: WitnessConfig): PeerClient {
    const key = `${w.host}:${w.port} ${w.fingerprint}`;
    if (this.client?.key !== key) {
      void this.client?.client.close();
      this.client = {
        key,
        client: new PeerClient(
          { host: w.host, port: w.port },
          w.fingerprint,
          this.deps.key,
          this.deps.name,
        ),
      };
    }
    return this.client.client;
  }

  /**
   * Ask the witness for the lease at `generation` (renewing it, or taking it over). A grant
   * makes this appliance's lease valid for LEASE_TRUST of its length from when it asked.
   */
  async ask(rel: RelationshipView, generation: number): Promise<LeaseAnswer> {
    const w = this.deps.witness();
    const ms = this.leaseMs();
    if (!w || ms === undefined) throw new Error('no witness is configured');
    const client = this.witnessClient(w);
    const sentAt = now();
    const synced = this.deps.synced();
    const alone = this.alone?.generation === generation ? this.alone.change : undefined;
    const answer = await withTimeout(
      client.call<LeaseAnswer>('POST', WITNESS_LEASE_PATH, {
        pair: [rel.self.name, rel.peer.name],
        generation,
        leaseMs: ms,
        ...(alone ? { alone } : {}),
        ...(synced ? { synced } : {}),
      }),
      Math.max(50, ms / 4),
      `the witness ${peerLabel(w)}`,
    );
    this.lastContactAt = Date.now();
    if (answer.granted) this.witnessUntil = sentAt + ms * LEASE_TRUST;
    return answer;
  }

  /** Ask the witness who holds the pair's lease (nothing changes); null without a witness. */
  async witnessView(rel: RelationshipView): Promise<WitnessView | null> {
    const w = this.deps.witness();
    if (!w) return null;
    const base = { address: peerLabel(w), holdsLease: this.witnessUntil > now() };
    const seen = () => (this.lastContactAt ? new Date(this.lastContactAt).toISOString() : null);
    try {
      const status = await withTimeout(
        this.witnessClient(w).call<LeaseStatus>('POST', WITNESS_STATUS_PATH, {
          pair: [rel.self.name, rel.peer.name],
        }),
        2_000,
        `the witness ${peerLabel(w)}`,
      );
      this.lastContactAt = Date.now();
      return { ...base, ...status, reachable: true, lastContactAt: seen() };
    } catch (e) {
      const error = isGatehouseError(e) ? e.message : String(e);
      return { ...base, reachable: false, lastContactAt: seen(), error };
    }
  }

  /**
   * On a primary whose backup is cut off: have the witness keep `change` as acknowledged alone
   * (it then grants the lease to no backup that has not synced that far). Returns why not, if
   * the witness did not keep it: then the change must not be acknowledged.
   */
  async keepAlone(rel: RelationshipView, change: number): Promise<string | undefined> {
    const held = this.alone?.generation === rel.generation ? this.alone.change : 0;
    this.alone = { generation: rel.generation, change: Math.max(held, change) };
    try {
      const answer = await this.ask(rel, rel.generation);
      return answer.granted ? undefined : `the witness refused: ${answer.reason ?? 'no reason'}`;
    } catch (e) {
      return `the witness did not answer (${isGatehouseError(e) ? e.code : String(e)})`;
    }
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
    void this.client?.client.close();
  }

  /** The witness's settings changed: renew now, not a second (or an old quarter lease) later. */
  again(): void {
    this.loop.now();
  }

  /** Renew every quarter lease, and look again the moment the votes held run out. */
  private next(): number {
    const ms = this.leaseMs();
    if (ms === undefined) return 1_000;
    const expiry = Math.max(this.witnessUntil, this.peerUntil) - now();
    return Math.max(10, Math.min(ms / 4, expiry > 0 ? expiry + 1 : ms / 4));
  }

  /** One round on a primary with a witness: renew the lease, then see whether it may serve. */
  async round(): Promise<void> {
    const rel = this.deps.view();
    if (!this.deps.active() || rel?.role !== 'primary' || this.leaseMs() === undefined) {
      this.serving = undefined;
      return;
    }
    await this.renew(rel);
    this.check();
  }

  private async renew(rel: RelationshipView): Promise<void> {
    try {
      const answer = await this.ask(rel, rel.generation);
      if (answer.granted) return;
      // A newer holder is learnt from the peer itself (its heartbeats): a backup whose takeover
      // was called off holds the lease at a higher generation without being primary.
      this.lastFailure = `the witness refused: ${answer.reason ?? 'no reason given'}`;
    } catch (e) {
      this.lastFailure = `the witness did not answer (${isGatehouseError(e) ? e.code : String(e)})`;
    }
  }

  /** Log and act on a change between serving and not (the first round only logs a loss). */
  private check(): void {
    // The role may have changed while the renewal was under way (a step-down): only a primary
    // starts or stops serving.
    if (this.deps.view()?.role !== 'primary' || !this.configured()) {
      this.serving = undefined;
      return;
    }
    const serving = this.mayServe();
    if (serving === this.serving) return;
    const was = this.serving;
    this.serving = serving;
    if (serving) {
      if (was === false)
        this.deps.changed(
          true,
          this.witnessUntil > now()
            ? 'the witness granted this primary its lease again'
            : 'the backup promised again not to take over',
        );
      return;
    }
    const since = wallClockOf(Math.max(this.witnessUntil, this.peerUntil));
    this.deps.changed(
      false,
      `this primary holds neither the witness's lease (${this.lastFailure}) nor the backup's promise: it may be the one cut off, or the backup may take over, so it accepts no changes until it holds one again (split-brain guard)`,
      since,
    );
  }
}
