import { Duplex } from 'node:stream';

import type { MuxStream } from '../sessions/mux.js';
import { ResumeAnswer } from '../sessions/protocol.js';
import { Backoff, followPause, MoveFollowing } from '../shared/move-retry.js';
import { clientsErrors } from './error-codes.js';
import { startBeating, stopBeating } from './leg-keepalive.js';
import { sessionsErrors } from '../sessions/error-codes.js';

export { KEEPALIVE_MS, keepaliveTimers } from './leg-keepalive.js';

/**
 * Bytes a side keeps that the other end has not acknowledged. Past it the leg's writer waits
 * (its pipe stops reading the local socket): backpressure, never a dropped byte.
 */
export const RESUME_BUFFER = 8 * 1024 * 1024;
/** Acknowledge at once past this many bytes received, else within ACK_DELAY_MS. */
const ACK_AT = 512 * 1024;
const ACK_DELAY_MS = 20;
/** A leg silent this long (no byte, no acknowledgement) broke: a cut link, a frozen relay. */
export const SILENT_MS = 15_000;
/**
 * The site answered that the session's Jump Client is on no appliance yet (it is moving): asked
 * again at the fast beat of a move (src/shared/move-retry.ts), not after a growing wait, for the
 * first FOLLOW_FOR_MS of a pause, so the leg resumes as soon as the Jump Client is back rather
 * than up to 2 s later.
 */
const FOLLOW_FOR_MS = 15_000;
/** Otherwise a reopen is tried again after 250 ms, then twice as long each time up to 2 s. */
const REOPEN_BACKOFF = { minMs: 250, maxMs: 2_000, spread: 0 };
/** Codes after which trying again cannot help: the session is over. */
const FINAL = new Set([
  'SESSION_ENDED',
  'SESSION_RESUME_EXPIRED',
  'RESUME_TOKEN_REPLAYED',
  'CLIENT_TICKET_INVALID',
  'CLIENT_TICKET_EXPIRED',
  // The user was disabled, deleted or given a new password, or the installation revoked.
  'CLIENT_TICKET_REVOKED',
  'JUMP_CLIENT_REVOKED',
  'VALIDATION_FAILED',
]);

/** Open the leg again with the resume token: where the session now is (the site decides). */
export type Reopen = (
  token: string,
  resume: { received: number; pausedMs: number },
  timeoutMs: number,
) => Promise<Duplex>;

export interface ResumableLegOptions {
  /** How long to keep trying after a break before the session ends (default 120 s). */
  windowMs?: number;
  /**
   * Keep writing after the other end ended its side (a half-close, as a Jump Client's target
   * connection or a forwarded port needs). Default false, as a socket: this side then ends too.
   */
  allowHalfOpen?: boolean;
  log?: (line: string) => void;
}

/** The answer of a resumable ACCEPT, or undefined when the appliance did not offer one. */
export function resumeAnswerOf(leg: Duplex): ResumeAnswer['resume'] | undefined {
  const parsed = ResumeAnswer.safeParse((leg as Partial<MuxStream>).acceptInfo);
  return parsed.success ? parsed.data.resume : undefined;
}

/**
 * One end of a resumable session leg, used as the socket the leg was: the bytes written are
 * kept until the other END acknowledges them (the relay in between keeps nothing), and when the
 * leg breaks it is opened again through the site with the resume token, the bytes the other
 * end lacks are sent again, and reading goes on where it stopped. The application on either
 * side sees one stream, nothing lost, duplicated or reordered.
 *
 * Half-close is part of that stream: ending the writable side sends an EOF frame naming where
 * this side's bytes end, and that end takes one place in the sequence (as TCP's FIN does), so
 * it is acknowledged, sent again after a resumption until it is, and delivered to the other
 * application only once every byte before it was. The session is over when both ends are
 * delivered and acknowledged; only then do the ends close the leg itself (its FIN), which the
 * relay takes as the session's clean end.
 */
export class ResumableLeg extends Duplex {
  /** Sent bytes not yet acknowledged, oldest first; `base` is the offset of the first. */
  private unacked: Buffer[] = [];
  private base = 0;
  private sent = 0;
  private received = 0;
  /** The last place in the other end's sequence this side acknowledged. */
  private acked = 0;
  private leg: MuxStream | undefined;
  private token: string;
  private heard = Date.now();
  private writeWaiting: (() => void) | undefined;
  private legFull = false;
  private finWritten = false;
  private finAcked = false;
  /** Where the other end's bytes end, once its EOF came (delivered when `received` gets there). */
  private finAt: number | undefined;
  private finReceived = false;
  private ackTimer: NodeJS.Timeout | undefined;
  /** This leg's part of the process's keepalive (startBeating). */
  private readonly keepalive = () => this.beat();
  private detach: (() => void) | undefined;
  /** Times this leg resumed, and how long it was paused in total. */
  moves = 0;
  pausedMs = 0;

  constructor(
    first: MuxStream,
    readonly session: string,
    private readonly reopen: Reopen,
    private readonly opts: ResumableLegOptions = {},
  ) {
    super({ allowHalfOpen: opts.allowHalfOpen ?? false, autoDestroy: false });
    this.token = resumeAnswerOf(first)!.token;
    this.attach(first);
    startBeating(this.keepalive);
  }

  private get window(): number {
    return this.opts.windowMs ?? 120_000;
  }

  /** This side's place in the other end's sequence: its bytes, +1 for its end once delivered. */
  private get receivedSeq(): number {
    return this.received + (this.finReceived ? 1 : 0);
  }

  /** Both ends delivered and acknowledged: nothing is left to send again. */
  private get done(): boolean {
    return this.finAcked && this.finReceived && this.acked === this.receivedSeq;
  }

  private attach(leg: MuxStream): void {
    this.leg = leg;
    this.heard = Date.now();
    this.legFull = false;
    const onData = (chunk: Buffer) => {
      this.heard = Date.now();
      this.received += chunk.length;
      if (this.finAt !== undefined && this.received > this.finAt)
        return void leg.destroy(new Error('bytes after the end of the stream'));
      if (!this.push(chunk)) leg.pause();
      if (this.received - this.acked >= ACK_AT) this.ack();
      else this.ackTimer ??= setTimeout(() => this.ack(), ACK_DELAY_MS);
      this.deliverEnd();
    };
    const onEof = (offset: number) => {
      this.heard = Date.now();
      if (this.finReceived) return; // sent again after a resumption
      if (offset < this.received)
        return void leg.destroy(new Error(`an end at ${offset}, before ${this.received}`));
      this.finAt = offset;
      this.deliverEnd();
    };
    const onAck = (offset: number) => {
      this.heard = Date.now();
      this.acknowledged(offset);
    };
    const onDrain = () => {
      this.legFull = false;
      this.release();
    };
    let failure: Error | undefined;
    const onError = (e: Error) => (failure = e);
    const onClose = () => {
      this.detach?.();
      this.leg = undefined;
      if (this.destroyed) return;
      // Over: close once the application read everything (destroy would drop it).
      if (this.done)
        return void (this.readableEnded ? this.destroy() : this.once('end', () => this.destroy()));
      const code = (failure as { code?: string } | undefined)?.code;
      if (code && FINAL.has(code)) return void this.destroy(failure);
      void this.takeUp(failure?.message ?? 'the relay connection closed');
    };
    const listeners: [string, (arg: never) => void][] = [
      ['data', onData],
      ['eof', onEof],
      ['ack', onAck],
      ['drain', onDrain],
      ['error', onError],
      ['close', onClose],
    ];
    for (const [event, fn] of listeners) leg.on(event, fn as (arg: unknown) => void);
    this.detach = () => {
      for (const [event, fn] of listeners) leg.off(event, fn as (arg: unknown) => void);
      this.detach = undefined;
    };
    // What came in the read that held the leg's ACCEPT was emitted before the leg was
    // awaited and attached here: its ACK and EOF (bytes wait in the leg's buffer), and a RESET
    // (the relay paused the part at once: it moved again). Taken now, or an EOF is lost (the
    // application never sees the end) or the leg stays attached closed (the session never
    // resumes: nothing else takes it up).
    if (leg.peerAck !== undefined) onAck(leg.peerAck);
    if (leg.peerEof !== undefined) onEof(leg.peerEof);
    if (leg.closed) {
      failure = leg.errored ?? undefined;
      this.opts.log?.(
        `session ${this.session}: the leg closed as it was accepted (${failure?.message ?? 'no reason'})`,
      );
      // After the caller's own work on the leg (resumed() sends again what it lacks).
      queueMicrotask(() => {
        if (this.leg === leg) onClose();
      });
    }
  }

  /** Every byte before the other end's EOF arrived: the application reads the end, at once acknowledged. */
  private deliverEnd(): void {
    if (this.finReceived || this.finAt === undefined || this.received !== this.finAt) return;
    this.finReceived = true;
    this.push(null);
    this.ack();
  }

  /** The session is over when both ends are acknowledged: close the leg (the relay's clean end). */
  private closeWhenDone(): void {
    if (this.done && this.leg && !this.leg.writableEnded) this.leg.end();
  }

  /** The leg broke: reopen it through the site until the resume window passes. */
  private async takeUp(why: string): Promise<void> {
    const pausedAt = Date.now();
    const deadline = pausedAt + this.window;
    this.opts.log?.(`session ${this.session}: leg broke (${why}); resuming`);
    const backoff = new Backoff(REOPEN_BACKOFF);
    const following = new MoveFollowing(FOLLOW_FOR_MS);
    following.begin(pausedAt);
    while (!this.destroyed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const leg = await this.reopen(
          this.token,
          { received: this.receivedSeq, pausedMs: Date.now() - pausedAt },
          left,
        );
        const answer = resumeAnswerOf(leg);
        if (this.destroyed || !answer) {
          leg.destroy();
          if (!answer) break;
          return;
        }
        this.resumed(leg as MuxStream, answer);
        this.moves++;
        this.pausedMs += Date.now() - pausedAt;
        this.opts.log?.(
          `session ${this.session}: resumed after ${Date.now() - pausedAt} ms (part ${answer.part})`,
        );
        return;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code && FINAL.has(code)) return void this.destroy(e as Error);
        this.opts.log?.(`session ${this.session}: not resumed yet (${(e as Error).message})`);
        const pause =
          code === 'JUMP_CLIENT_NOT_CONNECTED' && following.active ? followPause() : backoff.next();
        // Not a reason to keep the process alive: the leg's owner decides that.
        await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(0, left))).unref());
      }
    }
    this.destroy(
      sessionsErrors.SESSION_RESUME_EXPIRED(
        `The session ended: it could not resume within ${Math.round(this.window / 1000)} s.`,
      ),
    );
  }

  /** Back on a new leg: send again what the other end lacks (its end too), then go on as before. */
  private resumed(leg: MuxStream, answer: NonNullable<ReturnType<typeof resumeAnswerOf>>): void {
    this.token = answer.token;
    const sentSeq = this.sent + (this.finWritten ? 1 : 0);
    if (answer.peerReceived < this.base || answer.peerReceived > sentSeq) {
      leg.destroy();
      return void this.destroy(
        clientsErrors.SESSION_RESUME_GAP(
          `The other end holds ${answer.peerReceived} bytes of this side's ${this.sent}, which this side no longer has: the session cannot go on.`,
        ),
      );
    }
    this.acknowledged(answer.peerReceived);
    this.attach(leg);
    for (const chunk of this.unacked) if (!leg.write(chunk)) this.legFull = true;
    if (this.finWritten && !this.finAcked) leg.eof(this.sent);
    if (this.readableLength >= this.readableHighWaterMark) leg.pause();
    this.ack();
  }

  /** The other end holds this side's sequence up to `offset` (past `sent`: its end too). */
  private acknowledged(offset: number): void {
    if (offset > this.sent && this.finWritten) this.finAcked = true;
    offset = Math.min(offset, this.sent);
    while (this.unacked.length && this.base + this.unacked[0]!.length <= offset) {
      this.base += this.unacked.shift()!.length;
    }
    const first = this.unacked[0];
    if (first && offset > this.base) {
      this.unacked[0] = first.subarray(offset - this.base);
      this.base = offset;
    }
    this.release();
    this.closeWhenDone();
  }

  private ack(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.acked = this.receivedSeq;
    this.leg?.ack(this.acked);
    this.closeWhenDone();
  }

  /** Keepalive (startBeating): acknowledge (the other end hears it); give up on a silent leg. */
  private beat(): void {
    if (!this.leg) return;
    if (Date.now() - this.heard > SILENT_MS)
      return void this.leg.destroy(new Error(`nothing heard for ${SILENT_MS / 1000} s`));
    this.ack();
  }

  /** A write waits while the other end lacks too much, or the leg's own buffer is full. */
  private release(): void {
    if (!this.writeWaiting || this.legFull || this.sent - this.base > RESUME_BUFFER) return;
    const done = this.writeWaiting;
    this.writeWaiting = undefined;
    done();
  }

  override _write(chunk: Buffer, _e: BufferEncoding, callback: (e?: Error | null) => void): void {
    this.unacked.push(chunk);
    this.sent += chunk.length;
    if (this.leg && !this.leg.write(chunk)) this.legFull = true;
    this.writeWaiting = () => callback();
    this.release();
  }

  override _final(callback: (e?: Error | null) => void): void {
    this.finWritten = true;
    this.leg?.eof(this.sent);
    callback();
  }

  override _read(): void {
    this.leg?.resume();
  }

  override _destroy(error: Error | null, callback: (e?: Error | null) => void): void {
    stopBeating(this.keepalive);
    clearTimeout(this.ackTimer);
    this.detach?.();
    const leg = this.leg;
    this.leg = undefined;
    if (leg && !leg.destroyed) {
      // Over: the leg closes by itself. Else this application let go of the session: the
      // relay ends it (SESSION_ENDED, not a break the other end would wait to resume).
      leg.on('error', () => undefined); // its listeners left with detach()
      if (this.done) leg.end();
      else
        leg.destroy(
          sessionsErrors.SESSION_ENDED(
            `The other end closed the session${error ? ` (${error.message})` : ''}.`,
          ),
        );
    }
    this.unacked = [];
    callback(error);
  }
}
