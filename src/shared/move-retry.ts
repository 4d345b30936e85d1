import { jittered } from './jitter.js';

/**
 * How a client tries again when an appliance moves it (a failover, an install, a draining
 * node): the Jump Client's control connection, a resumable session leg and the console's
 * session start share these pieces, so a site's clients follow a move at one beat.
 *
 * While a move is under way the new appliance may take the site any moment: a client follows
 * it at the fast beat, every FOLLOW_BEAT_MS spread at random over ±50 % (125-375 ms), so that
 * the clients moved at once do not knock in step. Otherwise it backs off, and a busy site's
 * Retry-After is honoured.
 */
export const FOLLOW_BEAT_MS = 250;

/** The next pause while following a move: FOLLOW_BEAT_MS (or `beatMs`) spread over ±50 %. */
export const followPause = (beatMs = FOLLOW_BEAT_MS) => jittered(beatMs, 1);

/** A time after a move during which a client follows it at the fast beat. */
export class MoveFollowing {
  private until = 0;

  constructor(private readonly windowMs: number) {}

  /** Follow from `since` (the move, or the pause it caused) for the window. */
  begin(since = Date.now()): void {
    this.until = since + this.windowMs;
  }

  end(): void {
    this.until = 0;
  }

  get active(): boolean {
    return Date.now() < this.until;
  }
}

/**
 * Exponential backoff: the first wait `minMs`, each next one twice the last up to `maxMs`,
 * each spread by `spread` (see `jittered`; 0 waits exactly).
 */
export class Backoff {
  private current: number;

  constructor(private readonly o: { minMs: number; maxMs: number; spread?: number }) {
    this.current = o.minMs;
  }

  next(): number {
    const wait = jittered(this.current, this.o.spread ?? 0.5);
    this.current = Math.min(this.o.maxMs, this.current * 2);
    return wait;
  }

  reset(): void {
    this.current = this.o.minMs;
  }
}

/**
 * How long a busy server (429, 503) asked to be left alone by its Retry-After (seconds), spread
 * ±10 % and at most `maxMs`; undefined when it named no time. `e` is an error carrying the
 * answer's `headers`, as the site API's errors do.
 */
export function retryAfterMs(e: unknown, maxMs: number): number | undefined {
  const after = Number((e as { headers?: Record<string, string> }).headers?.['retry-after']);
  return after > 0 ? Math.min(maxMs, jittered(after * 1_000, 0.2)) : undefined;
}

/**
 * A bounded retry: at most `tries` attempts (the first counted when the limit is made), and
 * none begun after `withinMs`. A client that moves twice in a row is followed; one that never
 * comes back is given up.
 */
export class TryLimit {
  readonly deadline: number;
  private used = 1;

  constructor(private readonly o: { tries: number; withinMs: number }) {
    this.deadline = Date.now() + o.withinMs;
  }

  /** After a failed attempt: whether another may begin (it is counted). */
  again(): boolean {
    if (Date.now() > this.deadline || this.used >= this.o.tries) return false;
    this.used++;
    return true;
  }
}
