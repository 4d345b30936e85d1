import net from 'node:net';
import { SYSTEM } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import { peerLabel, type PeerAddress } from './peer-client.js';
import type { FailoverRelationship, PeerState } from './relationship.js';

/** How often each side contacts the other when automatic failover does not ask for more. */
export const HEARTBEAT_MS = 5_000;

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
  private timer: NodeJS.Timeout | undefined;
  private lastContactAt = Date.now();
  private lastWithheld: string | undefined;
  private running = false;
  last: PeerState | undefined;
  /** When the peer last answered a heartbeat (for monitoring). */
  lastReachableAt: number | undefined;

  constructor(
    private readonly relationship: FailoverRelationship,
    private readonly events: EventLog,
    /** Only a serving appliance (the daemon's) acts; CLI commands that open it do not. */
    private readonly active: () => boolean,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  private interval(): number {
    const auto = this.relationship.automatic();
    if (!auto.enabled) return HEARTBEAT_MS;
    return Math.min(HEARTBEAT_MS, Math.max(250, (auto.unreachableForSeconds * 1000) / 4));
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.tick()
        .catch(() => undefined)
        .finally(() => this.schedule(this.active() ? this.interval() : 250));
    }, ms);
    this.timer.unref();
  }

  /** One round: contact the peer, then decide about automatic failover. */
  async tick(now = () => Date.now()): Promise<void> {
    if (!this.active() || !this.relationship.view()) {
      this.lastContactAt = now();
      return;
    }
    const state = await this.relationship.contactPeer(Math.min(3_000, this.interval() * 2));
    this.last = state;
    if (state.reachable) {
      this.lastContactAt = now();
      this.lastReachableAt = this.lastContactAt;
      this.lastWithheld = undefined;
      return;
    }
    await this.considerTakeover(now() - this.lastContactAt, state);
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

  private withhold(reason: string): void {
    if (this.lastWithheld === reason.replace(/\d+ s,/, '')) return;
    this.lastWithheld = reason.replace(/\d+ s,/, '');
    this.events.record(SYSTEM, 'failover.automatic-takeover-withheld', 'automatic-failover', {
      reason,
    });
  }
}
