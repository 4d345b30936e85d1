import { jittered } from '../shared/jitter.js';
import { Backoff, followPause, MoveFollowing, retryAfterMs } from '../shared/move-retry.js';
import { Relay, type MoveMessage } from '../sessions/protocol.js';
import { isConnectionError } from './site-api.js';

/** The site will not take this installation until an administrator acts: the client stops. */
const REFUSED_FOR_GOOD = new Set([
  'JUMP_CLIENT_REVOKED',
  'JUMP_CLIENT_NAME_TAKEN',
  'JUMP_CLIENT_TOKEN_INVALID',
  'JUMP_CLIENT_TOKEN_OTHER_NAME',
  'JUMP_CLIENT_LEGACY_KEY_CLOSED',
  'JUMP_CLIENT_NAME_RESERVED',
]);

/** 503s of a move in progress (a backup, a draining or stopping node), not of a busy site. */
const NOT_THIS_NODE = new Set([
  'NOT_ACCEPTING_CLIENTS',
  'NODE_NOT_ACCEPTING',
  'APPLIANCE_STOPPING',
]);

/**
 * 503s of an appliance installing an update or verifying one: the install that moved this
 * client, which restarts it in seconds. Asked while following that move (the site still leads
 * there until it restarts), they are tried again after the answer's Retry-After (2 s for
 * client endpoints), at most UPDATING_PACE_MAX_MS, spread ±25 %: the appliance sets the pace,
 * not the fast beat (5,000 clients at 4 tries a second were ~20k TLS handshakes a second at an
 * installing appliance), nor the 30 s an appliance before this asked (the Jump Client, and every
 * session through it, came back some 30 s after an install of 3-5 s).
 */
const UPDATING = new Set(['UPDATE_IN_PROGRESS', 'UPDATE_VERIFYING']);
const UPDATING_PACE_MAX_MS = 2_000;

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/**
 * Asked to move, it follows the move at the fast beat (src/shared/move-retry.ts) for FOLLOW_MS,
 * not after a growing backoff: the site is changing hands (a failover's Become Backup, an
 * install), its sessions pause until it is back, and the new appliance may take the site
 * address any moment.
 */
const FOLLOW_MS = 30_000;
/** The first reconnect after a move waits 0 to this long: a site's clients do not go in step. */
const MOVE_SPREAD_MS = 250;

/** After a failed connection: stop, or try again in `wait` ms (to where a move named, if `retryMoved`). */
export type AfterFailure = { stop: true } | { stop: false; wait: number; retryMoved?: boolean };

/**
 * When a Jump Client tries its control connection again: at the fast beat while it follows a
 * move, after a busy site's Retry-After, else after an exponential backoff; and when it stops
 * trying because the site refused it for good.
 */
export class JumpClientReconnect {
  private readonly backoff = new Backoff({ minMs: BACKOFF_MIN_MS, maxMs: BACKOFF_MAX_MS });
  private readonly following = new MoveFollowing(FOLLOW_MS);
  /** Not to reconnect before this (a busy site's Retry-After), even for a waiting session. */
  private notBefore = 0;

  connected(): void {
    this.backoff.reset();
    this.following.end();
  }

  /** Asked to move: it follows the move; every client of the appliance goes within 0-250 ms. */
  moved(): number {
    this.following.begin();
    return jittered(MOVE_SPREAD_MS / 2, 2);
  }

  /** The wait before the next try: the fast beat while following a move, else the backoff. */
  next(): number {
    return this.following.active ? followPause() : this.backoff.next();
  }

  /**
   * A session waits for the control connection: the next try is soon, not after the backoff
   * grown meanwhile; spread as after a move, and never before a busy site said to come back.
   */
  forSession(): number {
    this.backoff.reset();
    return Math.max(jittered(MOVE_SPREAD_MS / 2, 2), this.notBefore - Date.now());
  }

  afterFailure(e: unknown, o: { customer: boolean; moved: boolean }): AfterFailure {
    const status = (e as { status?: number }).status ?? 0;
    const code = (e as { code?: string }).code ?? '';
    // A customer client refused (its key, its ticket, its version) would be refused again: it
    // stops; so does a Jump Client whose installation the site will not take (revoked, its
    // name another's, its token spent) until an administrator acts. A busy site (429, 503) or
    // a broken connection is tried again.
    if (
      (o.customer && status >= 400 && status < 500 && status !== 429) ||
      REFUSED_FOR_GOOD.has(code)
    )
      return { stop: true };
    // Where the moving appliance sent it says "not yet" (the failover peer it named is still
    // taking the primary role): asked again shortly while following the move. Else the site
    // is asked at once.
    if (o.moved && code === 'NOT_ACCEPTING_CLIENTS' && this.following.active)
      return { stop: false, wait: followPause(), retryMoved: true };
    if (status === 503 && UPDATING.has(code) && this.following.active) {
      const asked = Number((e as { headers?: Record<string, string> }).headers?.['retry-after']);
      const pace = asked > 0 ? Math.min(asked * 1_000, UPDATING_PACE_MAX_MS) : UPDATING_PACE_MAX_MS;
      const wait = jittered(pace, 0.5);
      // A session reopening its leg meanwhile waits for it too: the pace is the appliance's.
      this.notBefore = Date.now() + wait;
      return { stop: false, wait };
    }
    // A site shedding load (429, a 503 other than "not this node") is not followed at the
    // fast beat: it is given the time it asks for (Retry-After), else the backoff; so is any
    // other refusal. Only a broken connection (the address between appliances) or a node
    // that is not the one to take clients is tried again at the fast beat.
    if (status === 429 || (status === 503 && !NOT_THIS_NODE.has(code))) {
      const wait = retryAfterMs(e, BACKOFF_MAX_MS) ?? this.backoff.next();
      this.notBefore = Date.now() + wait;
      return { stop: false, wait };
    }
    if (o.moved) return { stop: false, wait: 0 };
    const fast = isConnectionError(e) || NOT_THIS_NODE.has(code);
    return { stop: false, wait: fast ? this.next() : this.backoff.next() };
  }
}

/** Where a move sends it: undefined (ask the site) when none is named or it is unusable. */
export function moveTarget(m: MoveMessage, log: (line: string) => void): Relay | undefined {
  const reason = String(m.reason).slice(0, 200);
  if (m.to === undefined) return void log(`asked to move: ${reason}`);
  const to = Relay.safeParse(m.to);
  if (to.success) {
    log(`asked to move: ${reason} (to ${to.data.node})`);
    return to.data;
  }
  const issue = to.error.issues[0]!;
  log(
    `asked to move: ${reason}, to an unusable place (${issue.path.join('.')}: ${issue.message}): asking the site`,
  );
  return undefined;
}
