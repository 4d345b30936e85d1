import net from 'node:net';
import { SYSTEM } from '../shared/actor.js';
import { Repeating } from '../shared/repeat.js';
import type { EventLog } from '../site/events.js';
import { isGatehouseError } from '../shared/errors.js';
import { peerLabel, type PeerAddress } from './peer-client.js';
import type { RelationshipView } from './types.js';
import type { AutomaticFailover } from './relationship-schemas.js';
import type { RelationshipStore } from './relationship-store.js';
import type { Quorum } from './quorum.js';
import type { PeerState } from './relationship-types.js';

/**
 * What the monitor uses of the relationship that owns it (relationship.ts): declared here, so
 * that the relationship builds its monitor without the two files importing each other.
 */
export interface MonitoredRelationship {
  readonly store: Pick<RelationshipStore, 'history'>;
  readonly quorum: Quorum;
  view(): RelationshipView | undefined;
  automatic(): AutomaticFailover;
  catchUp(): void;
  staleness(now?: number): string | undefined;
  takeOver(reason: string, granted?: number): boolean;
  contactPeer(timeoutMs?: number): Promise<PeerState>;
}

/** How often each side contacts the other when automatic failover does not ask for more. */
export const HEARTBEAT_MS = 5_000;

/** How much later a lease may seem to end between two answers without having been renewed (round trips). */
const RENEWED_SLACK_MS = 250;

/** Whether a TCP connection to `addr` opens within `timeoutMs`. */
export function tcpReachable(addr: PeerAddress, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: addr.host, port: addr.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Both sides of a relationship contact each other periodically (the heartbeat carries the
 * generation, so an old primary that returns learns it was replaced and steps down). On the
 * backup, optional automatic failover: once the primary has been unreachable for the set time
 * AND at least one check address still answers, the backup becomes primary; when no check
 * address answers, this backup is probably the one cut off (split brain), so it does not.
 * Every decision is written to the event log once per outage.
 */
export class FailoverMonitor {
  private lastContactAt = Date.now();
  private lastWithheld: string | undefined;
  /** A takeover withheld only until a promise or the primary's lease runs out, tried again then. */
  private retry: NodeJS.Timeout | undefined;
  private deciding = false;
  /** A retry or a round came to decide while a decision was under way: decide once more after it. */
  private decideAgain = false;
  /**
   * When the witness last said the primary's lease runs out (refusal 'held'): an answer further
   * out means the primary renewed it since, so it is alive and asked again only each heartbeat.
   */
  private heldUntil: number | undefined;
  private readonly loop = new Repeating(
    () => this.tick(),
    () => (this.active() ? this.interval() : 250),
  );
  last: PeerState | undefined;
  /** When the peer last answered a heartbeat (for monitoring). */
  lastReachableAt: number | undefined;

  constructor(
    private readonly relationship: MonitoredRelationship,
    private readonly events: EventLog,
    /** Only a serving appliance (the daemon's) acts; CLI commands that open it do not. */
    private readonly active: () => boolean,
  ) {}

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
    clearTimeout(this.retry);
  }

  /** The settings changed: contact the peer now, not at the end of the old heartbeat period. */
  again(): void {
    this.loop.now();
  }

  private interval(): number {
    const auto = this.relationship.automatic();
    if (!auto.enabled) return HEARTBEAT_MS;
    const quarter = (auto.unreachableForSeconds * 1000) / 4;
    // With a witness the backup's promises ride on the heartbeats: a quarter lease apart.
    if (auto.witness)
      return Math.max(50, Math.min(HEARTBEAT_MS, quarter, (auto.witness.leaseSeconds * 1000) / 4));
    return Math.min(HEARTBEAT_MS, Math.max(250, quarter));
  }

  /** One round: contact the peer, then decide about automatic failover. */
  async tick(now = () => Date.now()): Promise<void> {
    if (!this.active() || !this.relationship.view()) {
      this.lastContactAt = now();
      return;
    }
    const state = await this.relationship.contactPeer(Math.min(3_000, this.interval() * 2));
    this.last = state;
    if (this.relationship.view()) this.relationship.store.history.check(state);
    if (state.reachable) {
      clearTimeout(this.retry);
      this.heldUntil = undefined;
      this.lastContactAt = now();
      this.lastReachableAt = this.lastContactAt;
      this.lastWithheld = undefined;
      this.relationship.catchUp();
      return;
    }
    await this.decide(now() - this.lastContactAt, state);
  }

  /**
   * One decision at a time: a retry and a heartbeat's round may both come to decide. One that
   * comes while another is under way is not dropped (a retry timed to a lease's end would then
   * wait a whole heartbeat): the decision is made again, with what is known then, once it ends.
   */
  private async decide(unreachableMs: number, state: PeerState): Promise<void> {
    if (this.deciding) {
      this.decideAgain = true;
      return;
    }
    this.deciding = true;
    try {
      await this.considerTakeover(unreachableMs, state);
    } finally {
      this.deciding = false;
    }
    if (!this.decideAgain) return;
    this.decideAgain = false;
    const last = this.last;
    if (this.active() && last && !last.reachable)
      await this.decide(Date.now() - this.lastContactAt, last);
  }

  /**
   * Try the takeover again in `ms`, the moment what withheld it runs out, rather than at the
   * end of a heartbeat that waits out its timeout on a primary that does not answer: the
   * failover then takes the lease length plus a round trip to the witness, not up to a
   * heartbeat more. Every rule is checked again then.
   */
  private retryIn(ms: number): void {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      const last = this.last;
      if (this.active() && last && !last.reachable)
        void this.decide(Date.now() - this.lastContactAt, last);
    }, ms + 1);
    this.retry.unref();
  }

  /**
   * Ask the witness again when the primary's lease runs out, unless the primary renewed it since
   * the last answer: with only the link between the appliances cut, it renews for the whole
   * outage, and the witness is then asked once a heartbeat, not each time a renewed lease would
   * have run out. A lease not renewed since is retried at its end (the failover is not delayed).
   */
  private retryAtLeaseEnd(remainingMs: number): void {
    const until = Date.now() + remainingMs;
    const renewed = this.heldUntil !== undefined && until > this.heldUntil + RENEWED_SLACK_MS;
    this.heldUntil = until;
    if (!renewed) this.retryIn(remainingMs);
  }

  private async considerTakeover(unreachableMs: number, state: PeerState): Promise<void> {
    const rel = this.relationship.view();
    const auto = this.relationship.automatic();
    if (!rel || rel.role !== 'backup' || !auto.enabled) return;
    if (unreachableMs < auto.unreachableForSeconds * 1000) return;
    const peer = `${rel.peer.name} (${peerLabel(rel.peer.address)})`;
    const since = `${Math.round(unreachableMs / 1000)} s`;
    if (!rel.backupOperationsEnabled)
      return this.withhold(
        `the primary ${peer} has been unreachable for ${since}, but backup operations are disabled on this appliance`,
      );
    const stale = this.relationship.staleness();
    if (stale)
      return this.withhold(
        `the primary ${peer} has been unreachable for ${since}, but ${stale}: promoting this backup would roll the site back`,
      );
    if (auto.witness) return this.askWitness(rel, peer, since, state, auto.checkAddresses);
    const checks = await Promise.all(
      auto.checkAddresses.map(async (a) => ({ a: peerLabel(a), ok: await tcpReachable(a) })),
    );
    const reachable = checks.filter((c) => c.ok).map((c) => c.a);
    if (reachable.length === 0)
      return this.withhold(
        `the primary ${peer} has been unreachable for ${since}, but none of the check addresses (${checks.map((c) => c.a).join(', ')}) answers either: this backup may be the one cut off, so it does not take over (split-brain guard)`,
      );
    const reason = `the primary ${peer} has been unreachable for ${since} (at least ${auto.unreachableForSeconds} s; last error: ${state.error?.code ?? 'none'}) while ${reachable.join(', ')} answered`;
    if (this.relationship.takeOver(reason)) this.lastWithheld = undefined;
  }

  /**
   * With a witness, the witness breaks the tie: its lease goes to this backup only once the
   * primary has stopped renewing it for a whole lease (dead, frozen or cut off from the
   * witness too); a primary cut off from this backup alone keeps renewing it, and serves on.
   * Check addresses, if any, must answer as well.
   */
  private async askWitness(
    rel: RelationshipView,
    peer: string,
    since: string,
    state: PeerState,
    checkAddresses: PeerAddress[],
  ): Promise<void> {
    const head = `the primary ${peer} has been unreachable for ${since}`;
    const promised = this.relationship.quorum.promiseLeft();
    if (promised > 0) {
      this.retryIn(promised);
      return this.withhold(
        `${head}, but this backup promised it, ${Math.round(promised)} ms ago at most, not to take over for a lease length`,
      );
    }
    for (const a of checkAddresses)
      if (!(await tcpReachable(a)))
        return this.withhold(
          `${head}, but the check address ${peerLabel(a)} does not answer: this backup may be the one cut off (split-brain guard)`,
        );
    const generation = rel.generation + 1;
    let answer;
    try {
      answer = await this.relationship.quorum.ask(rel, generation);
    } catch (e) {
      return this.withhold(
        `${head}, but the witness does not answer either (${isGatehouseError(e) ? e.code : String(e)}): this backup may be the one cut off, so it does not take over (split-brain guard)`,
      );
    }
    if (answer.refusal === 'behind')
      return this.withhold(
        `${head}, but the witness refused this backup the lease: ${answer.reason} (no acknowledged change is lost)`,
      );
    if (!answer.granted) {
      if (answer.refusal === 'held') this.retryAtLeaseEnd(answer.remainingMs);
      return this.withhold(
        `${head}, but the witness refused this backup the lease: ${answer.reason ?? 'no reason given'} Only the link between the appliances is cut, so the primary serves on (split-brain guard).`,
      );
    }
    const reason = `${head} (at least ${this.relationship.automatic().unreachableForSeconds} s; last error: ${state.error?.code ?? 'none'}) and the witness granted this backup the lease at generation ${generation}: the primary stopped renewing it`;
    if (this.relationship.takeOver(reason, generation)) this.lastWithheld = undefined;
  }

  private withhold(reason: string): void {
    // Once per outage and cause: the figures in a reason change from round to round.
    const key = reason.replace(/\d+/g, '#');
    if (this.lastWithheld === key) return;
    this.lastWithheld = key;
    this.events.record(SYSTEM, 'failover.automatic-takeover-withheld', 'automatic-failover', {
      reason,
    });
  }
}
