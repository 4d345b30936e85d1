import { performance } from 'node:perf_hooks';
import { conflict } from '../shared/errors.js';
import { SYSTEM, type Actor } from '../shared/actor.js';
import { PeerClient, type PeerAddress } from './peer-client.js';
import type { PeerClaim } from './relationship-schemas.js';
import { RelationshipStore } from './relationship-store.js';
import { withTimeout } from './relationship-errors.js';
import { judgeClaim } from './generations.js';
import { Quorum } from './quorum.js';
import type {
  ClientsGo,
  FailoverRole,
  PeerAnswer,
  RelationshipDeps,
} from './relationship-types.js';
import type { RelationshipView } from './types.js';
import { failoverErrors } from './error-codes.js';

/**
 * What every part of the relationship (pairing, roles, generations) shares: the stored view,
 * the one-change-at-a-time lock, signed calls to the peer and learning from its answers.
 */
export class RelationshipCore {
  readonly store: RelationshipStore;
  /** With a witness: which votes this appliance holds (docs/failover.md, "The witness"). */
  readonly quorum: Quorum;
  busy: string | undefined;

  constructor(readonly deps: RelationshipDeps) {
    this.store = new RelationshipStore(deps.db, deps.events);
    this.quorum = new Quorum({
      name: deps.name,
      key: deps.key,
      view: () => this.store.get(),
      active: deps.active,
      synced: () => deps.sync()?.syncedThrough(),
      witness: () => {
        // A CLI command that opened the store closes it while the timers still run.
        if (!deps.db.open) return null;
        const auto = this.store.automatic();
        return auto.enabled ? auto.witness : null;
      },
      changed: (serving, reason, since) => this.servingChanged(serving, reason, since),
    });
    this.quorum.start();
  }

  /**
   * A primary with a witness that holds no vote besides its own accepts no changes (the
   * site-data guard asks `fenced`) and gives up its shared addresses until it holds one again.
   */
  private servingChanged(serving: boolean, reason: string, since?: string): void {
    const rel = this.store.get();
    this.deps.events.record(
      SYSTEM,
      serving ? 'failover.serving' : 'failover.fenced',
      rel?.peer.name ?? '',
      { reason, generation: rel?.generation ?? 0, ...(since ? { since } : {}) },
    );
    void this.follow(SYSTEM, serving ? 'primary' : 'backup');
  }

  /** This appliance's answer to every relationship call. */
  claim(): PeerAnswer {
    const rel = this.store.get();
    return {
      name: this.deps.name,
      role: rel?.role ?? 'standalone',
      generation: rel?.generation ?? 0,
      ...(rel?.role === 'backup' ? this.quorum.promise() : {}),
    };
  }

  follow(actor: Actor, role: FailoverRole, clients?: ClientsGo): Promise<void> {
    return this.deps.followRole?.(actor, role, clients) ?? Promise.resolve();
  }

  client(address: PeerAddress, fingerprint: string): PeerClient {
    return new PeerClient(address, fingerprint, this.deps.key, this.deps.name);
  }

  paired(): RelationshipView {
    const rel = this.store.get();
    if (!rel)
      throw conflict(
        failoverErrors.FAILOVER_NOT_PAIRED,
        'This appliance is not in a failover relationship. Establish one first, on the appliance intended to be the primary.',
      );
    return rel;
  }

  /** The relationship, if `from` is its peer; refused otherwise. */
  peerOf(from: string): RelationshipView {
    const rel = this.store.get();
    if (!rel || rel.peer.name !== from)
      throw conflict(
        failoverErrors.FAILOVER_NOT_PEER,
        rel
          ? `"${this.deps.name}" is in a failover relationship with "${rel.peer.name}", not with "${from}".`
          : `"${this.deps.name}" is not in a failover relationship (it was broken here). Establish it again from the primary.`,
      );
    return rel;
  }

  /** One administrative change at a time: a second one is refused, never interleaved. */
  async exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy)
      throw conflict(
        failoverErrors.FAILOVER_BUSY,
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
  async callPeer<T extends PeerAnswer>(
    rel: RelationshipView,
    path: string,
    body: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<T> {
    const client = this.client(rel.peer.address, rel.peer.fingerprint);
    const sentAt = performance.now();
    try {
      const claim = { role: rel.role, generation: rel.generation };
      const call = client.call<T>('POST', path, { ...body, ...claim });
      const answer = await (timeoutMs ? withTimeout(call, timeoutMs, client.label) : call);
      this.quorum.noteAnswer(sentAt, answer);
      return answer;
    } finally {
      void client.close();
    }
  }

  /** Learn from what the peer claims (generations.ts decides); step down if replaced. */
  observe(from: string, claim: PeerClaim): void {
    const outcome = judgeClaim(this.store.get(), from, claim);
    if (outcome.kind === 'step-down') {
      // A primary frozen or cut off past its votes learns it only now: it stopped serving then.
      const fencedSince = this.quorum.ranOutAt();
      this.store.write(SYSTEM, 'failover.stepped-down', outcome.next, {
        from: 'primary',
        generation: claim.generation,
        reason: outcome.reason,
        ...(fencedSince ? { fencedSince } : {}),
      });
      void this.follow(SYSTEM, 'backup');
    } else if (outcome.kind === 'learn') {
      this.store.write(SYSTEM, 'failover.generation-learned', outcome.next, {
        generation: claim.generation,
        peerRole: claim.role,
      });
    }
  }
}

/** The actor of a change the peer asked for. */
export const peerActor = (from: string): Actor => ({ area: 'system', name: `peer:${from}` });
