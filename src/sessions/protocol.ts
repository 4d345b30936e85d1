import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { GatehouseError } from '../shared/errors.js';
import { MuxStream } from './mux.js';

/**
 * The client gateway speaks on the appliance's own TLS port: a client sends an HTTP/1.1
 * request with `Upgrade: gatehouse-relay/1` and, once answered 101, the connection carries
 * either newline-delimited JSON control messages (a Jump Client's or a console's presence) or
 * the raw bytes of one session. One port, one certificate, and the shared address of the site
 * serves clients too.
 *
 * Clients of this release carry every session leg as a stream of one multiplexed connection
 * per appliance (`mux`, see mux.ts); the per-session paths stay for clients of the previous
 * release while a site is upgraded.
 */
export const UPGRADE_PROTOCOL = 'gatehouse-relay/1';
export const GATEWAY_PATHS = {
  /** A Jump Client's control connection. */
  jumpClient: '/client/v1/jump-client',
  /** A Jump Client's leg of one session (it dialled the target first). */
  jumpData: '/client/v1/jump-data',
  /** A console's presence: shows on Status > Information, receives "move" when draining. */
  console: '/client/v1/console',
  /** A console's leg of one session. */
  session: '/client/v1/session',
  /** A client's multiplexed connection: each stream one session leg (`session` or `jumpData`). */
  mux: '/client/v1/mux',
} as const;

/** What opens a stream of a multiplexed connection: the leg, with its own session ticket. */
export const MuxOpenRequest = z.object({
  path: z.enum([GATEWAY_PATHS.session, GATEWAY_PATHS.jumpData]),
  /** A session ticket, or a resume token to take a broken leg up again. */
  ticket: z.string().max(8_192),
  /**
   * The client keeps its unacknowledged bytes and resumes (docs/clients.md): `received` is what
   * it holds of the other side's stream, `pausedMs` how long it has been reconnecting. An
   * appliance of the previous release ignores it and answers a plain ACCEPT.
   */
  resume: z
    .object({
      received: z.number().int().min(0),
      pausedMs: z.number().min(0).max(86_400_000).default(0),
    })
    .optional(),
});
export type MuxOpenRequest = z.infer<typeof MuxOpenRequest>;

/** host:port of a TCP target, as Jump Clients allow them and consoles ask for them. */
export const TargetAddress = z
  .string()
  .regex(
    /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([1-9][0-9]{0,4})$/,
    'must be host:port, e.g. 127.0.0.1:22 or [::1]:3389',
  )
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');

export function splitTarget(target: string): { host: string; port: number } {
  const i = target.lastIndexOf(':');
  return { host: target.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(target.slice(i + 1)) };
}

/** What a resumable leg's ACCEPT carries (its absence: the leg is not resumable). */
export const ResumeAnswer = z.object({
  resume: z.object({
    session: z.string(),
    /** The token to resume this leg with next time (the next generation). */
    token: z.string(),
    /** Bytes of this side's stream the other side holds: send again from there. */
    peerReceived: z.number().int().min(0),
    part: z.number().int().min(1),
  }),
});
export type ResumeAnswer = z.infer<typeof ResumeAnswer>;

/**
 * Where a client should open its connections: another appliance, pinned by fingerprint. A
 * client checks one it is sent (a port out of range makes net.connect throw).
 */
export const Relay = z.object({
  node: z.string().min(1).max(253),
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65_535),
  fingerprint: z.string().min(1).max(200),
});
export type Relay = z.infer<typeof Relay>;

/**
 * Reconnect elsewhere: through the site, or straight to `to` when the appliance knows where
 * (a draining node sends its clients to an accepting node: the site's name may still lead to an
 * appliance that refuses them, as an old primary now a backup).
 */
export type MoveMessage = { type: 'move'; reason: string; to?: Relay };
/** Appliance → Jump Client. */
export type ToJumpClient =
  | { type: 'open'; session: string; target: string; ticket: string }
  | MoveMessage
  /** Upgrade to the site's build now: this client's turn in the rollout (S13). */
  | { type: 'upgrade'; version: string }
  | { type: 'ping' };
/** Jump Client → appliance. */
export const FromJumpClient = z.discriminatedUnion('type', [
  z.object({ type: z.literal('open-failed'), session: z.string(), reason: z.string().max(500) }),
  z.object({ type: z.literal('pong') }),
  z.object({ type: z.literal('upgrade-failed'), reason: z.string().max(1000) }),
]);
export type FromJumpClient = z.infer<typeof FromJumpClient>;
/** Appliance → console presence. */
export type ToConsole = MoveMessage | { type: 'ping' };

/** Write the answer that turns a request (or a stream's open) into a relay connection. */
export function acceptUpgrade(socket: Duplex): void {
  if (socket instanceof MuxStream) return socket.accept();
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${UPGRADE_PROTOCOL}\r\n\r\n`,
  );
}

/** Refuse an upgrade with a problem+json body (a stream's open with its problem), then close. */
export function refuseUpgrade(socket: Duplex, error: GatehouseError, instance: string): void {
  if (socket instanceof MuxStream) return socket.refuse(error);
  const body = JSON.stringify(error.toProblem(instance));
  const reason =
    error.status === 401 ? 'Unauthorized' : error.status === 404 ? 'Not Found' : 'Error';
  if (socket.writable)
    socket.end(
      `HTTP/1.1 ${error.status} ${reason}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * Newline-delimited JSON over a relay connection: one message per line, at most 64 KiB. Lines
 * that do not parse are errors of the peer: the connection is closed.
 */
export class LineChannel<In> {
  private buffered = '';
  private closed = false;

  constructor(
    readonly socket: Duplex,
    private readonly parse: (value: unknown) => In,
    private readonly onMessage: (message: In) => void,
    private readonly onClose: (reason: string) => void,
  ) {
    // Not setEncoding: an upgraded HTTP socket refuses it.
    const decoder = new StringDecoder('utf8');
    socket.on('data', (chunk: Buffer) => this.receive(decoder.write(chunk)));
    socket.on('error', (e) => this.close(e.message));
    socket.on('close', () => this.close('connection closed'));
  }

  send(message: object): void {
    if (!this.closed && this.socket.writable) this.socket.write(`${JSON.stringify(message)}\n`);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onClose(reason);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    if (this.buffered.length > 65_536) return this.close('control message longer than 64 KiB');
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (!line.trim()) continue;
      let message: In;
      try {
        message = this.parse(JSON.parse(line));
      } catch {
        return this.close('malformed control message');
      }
      this.onMessage(message);
      if (this.closed) return;
    }
  }
}

/** What a Jump Client installation signs to register: the site's challenge, in this context. */
export const registrationMessage = (challenge: string) =>
  Buffer.from(`gatehouse-jump-client-register-v1\n${challenge}`);
