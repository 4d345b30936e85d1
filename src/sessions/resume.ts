import type { ErrorFactory } from '../shared/errors.js';
import type { MuxStream } from './mux.js';
import { PAUSED } from './relay.js';
import type { SessionEnd } from './session-records.js';
import { issueTicket, type TicketClaims } from './tickets.js';
import { sessionsErrors } from './error-codes.js';

/** Who and what a session is: the same in its session ticket and its resume tokens. */
export interface SessionIdentity {
  session: string;
  representative: string;
  jumpClient: string;
  target: string;
  /** The representative's user account and ticket generation at the session's start. */
  uid?: string;
  ugen?: number;
}

/** One part of a resumable session, as the appliance relaying it records it. */
export interface SessionPart {
  /** 1 for the session's first part, +1 with each resumption. */
  part: number;
  /** Where this part's bytes start in each direction's stream (what the receiver held). */
  offsets: { toTarget: number; fromTarget: number };
  /** Resumptions so far and the time the session spent paused, in total. */
  moves: number;
  pausedMs: number;
}

export type Side = 'console' | 'jump';
export type ResumeClaims = Extract<TicketClaims, { kind: 'resume' }>;

interface Arrival {
  leg: MuxStream;
  /** Bytes of the other side's stream this side holds. */
  received: number;
  gen: number;
}

interface State {
  id: SessionIdentity;
  /** The generation of the tokens the clients hold (the number of the last part begun). */
  gen: number;
  pausedMs: number;
  pausedAt: number | undefined;
  waiting: Partial<Record<Side, Arrival>>;
  running: { console: MuxStream; jump: MuxStream } | undefined;
  timer: NodeJS.Timeout | undefined;
}

export interface ResumptionHost {
  interApplianceKey(): string;
  /** How long a paused session waits for its legs to come back (GATEHOUSE_RESUME_WINDOW_MS). */
  windowMs: number;
  /** Relay and record one part; resolves when it ends (`reason` PAUSED: a leg broke). */
  runPart(
    id: SessionIdentity,
    consoleLeg: MuxStream,
    jumpLeg: MuxStream,
    part: SessionPart,
  ): Promise<SessionEnd | undefined>;
  /** A resumption refused or given up, for the event log. */
  refused(id: SessionIdentity | undefined, name: string, reason: string): void;
  /** A leg came back and waits here for the other side's. */
  waiting?(id: SessionIdentity, side: Side): void;
}

/** How long a resume token is honoured: the longest a session may run and still resume. */
const TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Sessions ended here by their resume window, remembered so a leg back late is told at once. */
const ENDED_KEPT = 1_000;

/**
 * The resumable sessions of one appliance. A session is relayed as parts: the first when both
 * legs opened it, each next one when both legs came back with resume tokens after a leg broke
 * (here or on another appliance of the site, which may be gone: the clients, not the relay,
 * keep the bytes not yet acknowledged, so nothing is lost when the relay dies). Each part
 * issues the next generation of tokens; a token older than the generation this appliance saw
 * is a replay.
 */
export class SessionResumption {
  private readonly states = new Map<string, State>();
  /** Why each session whose resume window passed here ended (the latest ENDED_KEPT). */
  private readonly ended = new Map<string, string>();
  private closing = false;

  constructor(private readonly host: ResumptionHost) {}

  /** A new session whose two legs both asked to be resumable. */
  start(id: SessionIdentity, consoleLeg: MuxStream, jumpLeg: MuxStream): void {
    const state = this.stateOf(id, 0, 0);
    state.pausedAt = undefined;
    state.waiting = {
      console: { leg: consoleLeg, received: 0, gen: 0 },
      jump: { leg: jumpLeg, received: 0, gen: 0 },
    };
    this.pair(state);
  }

  /** A leg back with its resume token (checked by the caller) and the bytes it holds. */
  returned(claims: ResumeClaims, side: Side, leg: MuxStream, received: number, pausedMs = 0) {
    const id: SessionIdentity = {
      session: claims.session,
      representative: claims.representative,
      jumpClient: claims.jumpClient,
      target: claims.target,
      uid: claims.uid,
      ugen: claims.ugen,
    };
    const expected =
      side === 'console' ? claims.representative : `jump-client:${claims.jumpClient}`;
    if (claims.sub !== expected)
      throw this.refusal(
        id,
        sessionsErrors.CLIENT_TICKET_INVALID,
        `This resume token is not for the ${side === 'console' ? "console's" : "Jump Client's"} leg.`,
      );
    const gone = this.ended.get(claims.session);
    // Logged when its window passed; the leg that comes back late learns why, not waits again.
    if (gone) throw sessionsErrors.SESSION_RESUME_EXPIRED(`The session ended: ${gone}.`);
    const known = this.states.get(claims.session);
    if (known && claims.gen < known.gen)
      throw this.refusal(
        id,
        sessionsErrors.RESUME_TOKEN_REPLAYED,
        'This resume token was already used: the session has moved on. Start a new session.',
      );
    const state = this.stateOf(id, claims.gen, claims.paused);
    if (claims.gen > state.gen) {
      // The session went on elsewhere since this appliance saw it: older arrivals are stale.
      state.gen = claims.gen;
      state.pausedMs = claims.paused;
      // Its pause began where it last ran (the client says how long ago), not when it left here.
      state.pausedAt = undefined;
      this.expireLater(state);
      for (const s of ['console', 'jump'] as const)
        if (state.waiting[s] && state.waiting[s].gen < claims.gen) this.drop(state, s);
    }
    state.pausedAt ??= Date.now() - pausedMs;
    this.drop(state, side);
    state.waiting[side] = { leg, received, gen: claims.gen };
    leg.once('close', () => {
      if (state.waiting[side]?.leg === leg) delete state.waiting[side];
    });
    // A client that thinks the running part broke (it stopped hearing the other end) is right.
    if (state.running) {
      const paused = sessionsErrors.SESSION_PAUSED('The session is resuming.');
      state.running.console.destroy(paused);
      state.running.jump.destroy(paused);
    } else this.pair(state);
    // Not paired (yet): it waits here for the other side (a move may send it on at once).
    if (state.waiting[side]?.leg === leg) this.host.waiting?.(id, side);
  }

  /**
   * A planned move or a drain (src/sessions/drain.ts): the legs waiting here for a session whose
   * Jump Client `away` says is elsewhere (or that this appliance serves no more) are refused as
   * moving (SESSION_PAUSED, 409: not a 503, which a client asks again at the same place), so
   * they resume where it went. Left waiting, each waited here for the other leg, which went
   * there, until the resume window passed and the session ended (a pair's Become Backup just
   * after a Become Primary; a traffic node drained while a leg waited there). Returns how many
   * legs were refused.
   */
  sendWaitingAway(away: (jumpClient: string) => boolean, reason: string): number {
    let refused = 0;
    // A leg may wait while the part it broke still ends (its record being written): it too.
    for (const state of this.states.values()) {
      if (!away(state.id.jumpClient)) continue;
      for (const side of ['console', 'jump'] as const) {
        const arrival = state.waiting[side];
        if (!arrival) continue;
        delete state.waiting[side];
        refused++;
        arrival.leg.refuse(
          sessionsErrors.SESSION_PAUSED(`The session moves: ${reason}.`, { status: 409 }),
        );
      }
    }
    return refused;
  }

  /** Sessions paused here (no part runs), and legs waiting here to be paired (any session's). */
  pausedHere(): { sessions: number; waiting: number } {
    let sessions = 0;
    let waiting = 0;
    for (const state of this.states.values()) {
      if (!state.running) sessions++;
      if (state.waiting.console) waiting++;
      if (state.waiting.jump) waiting++;
    }
    return { sessions, waiting };
  }

  /** Paused and waiting sessions are let go (their clients resume elsewhere). */
  close(): void {
    this.closing = true;
    for (const s of this.states.values()) clearTimeout(s.timer);
  }

  private stateOf(id: SessionIdentity, gen: number, pausedMs: number): State {
    let state = this.states.get(id.session);
    if (!state) {
      state = {
        id,
        gen,
        pausedMs,
        pausedAt: undefined,
        waiting: {},
        running: undefined,
        timer: undefined,
      };
      this.states.set(id.session, state);
      this.expireLater(state);
    }
    return state;
  }

  private drop(state: State, side: Side): void {
    const before = state.waiting[side];
    delete state.waiting[side];
    before?.leg.destroy(sessionsErrors.SESSION_PAUSED('Replaced by a newer resumption.'));
  }

  private expireLater(state: State): void {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => this.expire(state), this.host.windowMs);
    state.timer.unref();
  }

  /** The resume window passed: the leg that came back is told why the session ended. */
  private expire(state: State): void {
    if (state.running || this.states.get(state.id.session) !== state) return;
    this.states.delete(state.id.session);
    const reason = `the other side did not come back within ${Math.round(this.host.windowMs / 1000)} s`;
    const waiting = Object.values(state.waiting);
    // Nothing came back here: the session went on elsewhere (or is over), not ended here.
    if (!waiting.length) return;
    for (const w of waiting)
      w.leg.refuse(sessionsErrors.SESSION_RESUME_EXPIRED(`The session ended: ${reason}.`));
    this.host.refused(state.id, 'session.resume.expired', reason);
    this.ended.set(state.id.session, reason);
    if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.keys().next().value!);
  }

  private pair(state: State): void {
    const { console: c, jump: j } = state.waiting;
    if (!c || !j || c.gen !== j.gen || state.running || this.closing) return;
    clearTimeout(state.timer);
    state.waiting = {};
    if (state.pausedAt !== undefined) state.pausedMs += Date.now() - state.pausedAt;
    state.pausedAt = undefined;
    const part = c.gen + 1;
    state.gen = part;
    const token = (sub: string) =>
      issueTicket(this.host.interApplianceKey(), {
        kind: 'resume',
        sub,
        ...state.id,
        gen: part,
        paused: state.pausedMs,
        exp: Date.now() + TOKEN_LIFETIME_MS,
      });
    const answer = (sub: string, peerReceived: number) => ({
      resume: { session: state.id.session, token: token(sub), peerReceived, part },
    });
    c.leg.accept(answer(state.id.representative, j.received));
    j.leg.accept(answer(`jump-client:${state.id.jumpClient}`, c.received));
    state.running = { console: c.leg, jump: j.leg };
    void this.host
      .runPart(state.id, c.leg, j.leg, {
        part,
        offsets: { toTarget: j.received, fromTarget: c.received },
        moves: part - 1,
        pausedMs: state.pausedMs,
      })
      .then((end) => {
        state.running = undefined;
        if (end?.reason !== PAUSED || this.closing)
          return void this.states.delete(state.id.session);
        state.pausedAt = Date.now();
        this.expireLater(state);
        this.pair(state);
      });
  }

  private refusal(id: SessionIdentity, code: ErrorFactory, detail: string) {
    this.host.refused(id, 'session.resume.refused', `${code.code}: ${detail}`);
    return code(detail);
  }
}
