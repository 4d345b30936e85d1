import type { GatewayState, LiveSession } from './gateway-state.js';
import { moveClient } from './presence.js';
import type { Relay } from './routing.js';
import { sessionsErrors } from './error-codes.js';

/** A planned move pauses the sessions this long after telling their clients to move. */
const MOVE_AFTER_MS = 1_000;
/** How often, and how long, a planned move looks whether a session's Jump Client left. */
const FOLLOW_EVERY_MS = 100;
const FOLLOW_FOR_MS = 30_000;

const pauseLegs = (legs: Iterable<{ destroy(e: Error): void }>, reason: string) => {
  const paused = sessionsErrors.SESSION_PAUSED(`The session moves: ${reason}.`);
  for (const leg of legs) leg.destroy(paused);
};

/**
 * Draining a node (S22): it stops taking new clients, asks the connected ones to reconnect
 * through the site (which sends them to another node), and moves resumable sessions after them.
 */
export class GatewayDrain {
  /** Where the primary node said this draining node's clients go now (an accepting node). */
  private sendTo: Relay | undefined;

  constructor(private readonly state: GatewayState) {}

  /**
   * Stop taking new clients here and ask every connected one to reconnect: to `to` (an accepting
   * node the primary node named) or else through the site (which sends it to another node). Resumable sessions follow a second later (they pause and
   * resume there); others go on: each runs on legs of its own, not the control connection. Were
   * a Jump Client in a session kept here until it is idle, the next session for it would come
   * here too, and a busy one would never leave.
   */
  drain(to?: Relay): void {
    this.state.draining = true;
    this.sendTo = to;
    for (const p of this.state.presences()) moveClient(p, 'this node is draining', to);
    this.moveSessionsSoon('this node is draining');
  }

  undrain(): void {
    this.state.draining = false;
    this.sendTo = undefined;
  }

  /**
   * A drain: once the clients had a moment to reconnect through the site (MOVE_AFTER_MS),
   * every resumable session here is paused (both legs reset with SESSION_PAUSED) and its clients
   * resume it where the site now sends them. Sessions of previous-release clients go on here.
   */
  private moveSessionsSoon(reason: string): void {
    setTimeout(() => {
      for (const [id, legs] of this.state.legs)
        if (this.state.live.get(id)?.moves !== undefined) pauseLegs(legs, reason);
    }, MOVE_AFTER_MS).unref();
  }

  /**
   * Any other planned move (an install, Become Backup, a released shared address): the clients
   * were just asked to reconnect through the site. Each resumable session here follows its
   * Jump Client: paused as soon as that client is connected here no more (it reconnected where
   * the site leads now), so both legs resume there at once instead of at this appliance's stop.
   * A session whose Jump Client came back here (the site still leads here: a lone appliance
   * installing) goes on, and pauses only for the restart. Looks for FOLLOW_FOR_MS at most.
   */
  sessionsFollowClients(
    reason: string,
    waitingLegs?: (here: (jumpClient: string) => boolean, reason: string) => number,
  ): void {
    const until = Date.now() + FOLLOW_FOR_MS;
    const here = (jumpClient: string) => this.state.jumpClients.has(jumpClient);
    const timer = setInterval(() => {
      let waiting = 0;
      for (const [id, legs] of this.state.legs) {
        const live = this.state.live.get(id);
        if (live?.moves === undefined) continue;
        if (here(live.jumpClient)) waiting++;
        else pauseLegs(legs, reason);
      }
      // And legs back here, not yet paired, of sessions whose Jump Client left (resume.ts).
      waiting += waitingLegs?.(here, reason) ?? 0;
      if (!waiting || Date.now() > until) clearInterval(timer);
    }, FOLLOW_EVERY_MS);
    timer.unref();
  }

  /** Not accepting (drain() already moved everyone): a client whose last session ended moves on. */
  sessionEnded(session: LiveSession): void {
    const state = this.state;
    if (state.accepting()) return;
    const jump = state.jumpClients.get(session.jumpClient);
    const why = 'this node is draining';
    if (jump && !state.sessionsOf(jump.client).length) moveClient(jump, why, this.sendTo);
    for (const c of state.consoles.values())
      if (!state.sessionsOf(c.client).length) moveClient(c, why, this.sendTo);
  }

  /**
   * Clients this node still serves: those connected here and those whose sessions still run
   * here after they moved. Draining is over when it reaches zero.
   */
  connectedCount(): number {
    const names = new Set<string>();
    for (const p of this.state.jumpClients.values()) names.add(`jump-client:${p.client.name}`);
    for (const p of this.state.consoles.values()) names.add(`console:${p.client.name}`);
    for (const s of this.state.live.values()) {
      names.add(`jump-client:${s.jumpClient}`);
      names.add(`console:${s.representative}`);
    }
    // A session being opened (its Jump Client still dialling the target) is one too.
    for (const p of this.state.pending.values()) {
      names.add(`jump-client:${p.claims.jumpClient}`);
      names.add(`console:${p.claims.sub}`);
    }
    return names.size;
  }
}
