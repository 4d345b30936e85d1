import type { GatewayState, LiveSession } from './gateway-state.js';
import { moveClient } from './presence.js';
import type { Relay } from './routing.js';
import { sessionsErrors } from './error-codes.js';

/** A planned move pauses the sessions this long after telling their clients to move. */
export const MOVE_AFTER_MS = 1_000;
/**
 * How long a planned move follows its Jump Clients: a Jump Client told to reconnect through the
 * site that is not back here by then is taken to be where the site leads now, elsewhere.
 */
export const FOLLOW_FOR_MS = 30_000;

const pauseLegs = (legs: Iterable<{ destroy(e: Error): void }>, reason: string) => {
  const paused = sessionsErrors.SESSION_PAUSED(`The session moves: ${reason}.`);
  for (const leg of legs) leg.destroy(paused);
};

/** What the drain needs of the resumable sessions paused here (resume.ts). */
export interface PausedSessions {
  /** Refuse as moving the legs waiting here for sessions whose Jump Client is away. */
  sendWaitingAway(away: (jumpClient: string) => boolean, reason: string): number;
  pausedHere(): { sessions: number; waiting: number };
}

/** A planned move or a drain under way: its sessions follow their Jump Clients. */
interface Move {
  reason: string;
  /** Jump Clients sent to a known other appliance (`to`, or through a released address). */
  sentAway: Set<string>;
  until: number;
  timer: NodeJS.Timeout;
  ended: () => void;
  done: Promise<void>;
}

/**
 * Draining a node (S22): it stops taking new clients, asks the connected ones to reconnect
 * through the site (which sends them to another node), and moves resumable sessions after them.
 */
export class GatewayDrain {
  /** Where the primary node said this draining node's clients go now (an accepting node). */
  private sendTo: Relay | undefined;
  private move: Move | undefined;
  /** A drain's pause of its resumable sessions, MOVE_AFTER_MS after it (moveSessionsSoon). */
  private pauseSoon: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: GatewayState,
    private readonly paused: PausedSessions,
  ) {}

  /**
   * Stop taking new clients here and ask every connected one to reconnect: to `to` (an accepting
   * node the primary node named) or else through the site (which sends it to another node). Resumable sessions follow a second later (they pause and
   * resume there); others go on: each runs on legs of its own, not the control connection. Were
   * a Jump Client in a session kept here until it is idle, the next session for it would come
   * here too, and a busy one would never leave. Legs waiting here to be paired are sent on at
   * once (the node serves no session any more), as in any planned move.
   */
  drain(to?: Relay): Promise<void> {
    this.state.draining = true;
    this.sendTo = to;
    for (const p of this.state.presences()) moveClient(p, 'this node is draining', to);
    this.moveSessionsSoon('this node is draining');
    return this.sessionsFollowClients('this node is draining');
  }

  /**
   * The drain is cancelled (the node set accepting again): new clients are taken here again,
   * and the drain's pause of the resumable sessions, if not yet come (MOVE_AFTER_MS), does not
   * come: they go on here. A move under way still follows the clients already told to move
   * (a part whose Jump Client reconnected elsewhere is paused and resumes there).
   */
  undrain(): void {
    this.state.draining = false;
    this.sendTo = undefined;
    clearTimeout(this.pauseSoon);
    this.pauseSoon = undefined;
  }

  /**
   * A drain: once the clients had a moment to reconnect through the site (MOVE_AFTER_MS),
   * every resumable session here is paused (both legs reset with SESSION_PAUSED) and its clients
   * resume it where the site now sends them. Sessions of previous-release clients go on here.
   * A drain again before then restarts the wait (one pause, MOVE_AFTER_MS after the last drain);
   * undrain() cancels it.
   */
  private moveSessionsSoon(reason: string): void {
    clearTimeout(this.pauseSoon);
    this.pauseSoon = setTimeout(() => {
      this.pauseSoon = undefined;
      for (const [id, legs] of this.state.legs)
        if (this.state.live.get(id)?.moves !== undefined) pauseLegs(legs, reason);
    }, MOVE_AFTER_MS);
    this.pauseSoon.unref();
  }

  /**
   * A planned move (an install, Become Backup, a released shared address, a node leaving its
   * cluster) or a drain: the clients were just asked to reconnect, to `sentAway` Jump Clients'
   * knowledge somewhere else. Each resumable session here follows its Jump Client, on events
   * (the move's start, a Jump Client leaving, a leg coming back here) for FOLLOW_FOR_MS:
   * - a part running here is paused as soon as its Jump Client is connected here no more (it
   *   reconnected where the site leads now), so both legs resume there at once instead of at
   *   this appliance's stop; one whose Jump Client stays or came back here goes on;
   * - a leg waiting here to be paired is sent on (refused as moving) only when its Jump Client
   *   is known to be elsewhere: this appliance serves sessions no more (a failover backup, a
   *   node draining or not accepting, stopping), or the Jump Client is not connected here and was
   *   sent away to another appliance, or was told to reconnect through the site and is not back
   *   when the move ends. A leg whose Jump Client comes back here is paired here.
   * Resolves when the move ends: at FOLLOW_FOR_MS, or as soon as no resumable part runs here,
   * no leg waits here and (while this appliance serves) no session is paused here.
   */
  sessionsFollowClients(reason: string, sentAway: Iterable<string> = []): Promise<void> {
    const until = Date.now() + FOLLOW_FOR_MS;
    const before = this.move;
    if (before) {
      // A move during a move: one move, with the later reason and end, and both lists.
      clearTimeout(before.timer);
      before.reason = reason;
      before.until = until;
      for (const name of sentAway) before.sentAway.add(name);
      before.timer = this.endAt(before);
    } else {
      let ended!: () => void;
      const done = new Promise<void>((r) => (ended = r));
      const move: Move = {
        reason,
        sentAway: new Set(sentAway),
        until,
        timer: undefined!,
        ended,
        done,
      };
      move.timer = this.endAt(move);
      this.move = move;
    }
    const move = this.move!;
    this.follow();
    return move.done;
  }

  /**
   * The gateway closes: a move under way ends now (its end timer cleared; it would otherwise look
   * at a closed gateway's sessions up to FOLLOW_FOR_MS later), and a drain's pause of its
   * sessions is not to come.
   */
  close(): void {
    clearTimeout(this.pauseSoon);
    this.pauseSoon = undefined;
    const move = this.move;
    if (!move) return;
    clearTimeout(move.timer);
    this.move = undefined;
    move.ended();
  }

  /** A Jump Client left, a leg came back to wait here, a part ended: a move under way looks again. */
  changed(): void {
    if (this.move) this.follow();
  }

  private endAt(move: Move): NodeJS.Timeout {
    const timer = setTimeout(() => this.follow(true), Math.max(0, move.until - Date.now()));
    timer.unref();
    return timer;
  }

  private serving(): boolean {
    const { state } = this;
    return !state.closing && state.host.acceptsClients() && state.accepting();
  }

  private follow(last = false): void {
    const move = this.move;
    if (!move) return;
    const here = (jumpClient: string) => this.state.jumpClients.has(jumpClient);
    // Resumable parts here, paused ones whose record is still being written included: each
    // one's end is looked at (sessionEnded), as legs may come back to wait for it.
    let running = 0;
    for (const [id, legs] of this.state.legs) {
      const live = this.state.live.get(id);
      if (live?.moves === undefined) continue;
      running++;
      if (!here(live.jumpClient)) pauseLegs(legs, move.reason);
    }
    const serving = this.serving();
    this.paused.sendWaitingAway(
      (jumpClient) => !serving || (!here(jumpClient) && (last || move.sentAway.has(jumpClient))),
      move.reason,
    );
    const paused = this.paused.pausedHere();
    if (last || (!running && !paused.waiting && !(serving && paused.sessions))) {
      clearTimeout(move.timer);
      this.move = undefined;
      move.ended();
    }
  }

  /** Not accepting (drain() already moved everyone): a client whose last session ended moves on. */
  sessionEnded(session: LiveSession): void {
    // A move under way may be over (looked at once the session's part is paused or over).
    if (this.move) setImmediate(() => this.changed());
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
