import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { GatehouseError } from '../shared/errors.js';
import { compareVersions } from '../shared/version.js';
import type { EventLog } from '../site/events.js';
import {
  acceptUpgrade,
  FromJumpClient,
  GATEWAY_PATHS,
  LineChannel,
  MuxOpenRequest,
  refuseUpgrade,
  UPGRADE_PROTOCOL,
  type ToConsole,
  type ToJumpClient,
} from './protocol.js';
import { MuxConnection, MuxStream } from './mux.js';
import { RecordingWriter } from './recording.js';
import { relay } from './relay.js';
import { SessionResumption, type SessionIdentity, type SessionPart } from './resume.js';
import type { SessionEnd, SessionRecords } from './session-records.js';
import { issueTicket, verifyTicket, type TicketClaims, type TicketKind } from './tickets.js';

/** What the gateway needs of the appliance it runs in. */
export interface GatewayHost {
  name: string;
  version: string;
  interApplianceKey(): string;
  /** False on a failover backup: clients use the primary (S1, S15). */
  acceptsClients(): boolean;
  /** False on a traffic node that stopped accepting new client connections (S22). */
  acceptsNewClients(): boolean;
  /**
   * Throws when a client's ticket, though signed and unexpired, was revoked since: its user
   * disabled, deleted or given a new password; its Jump Client installation revoked or its name
   * bound to another installation.
   */
  checkClient(claims: TicketClaims): void;
  /** Raised by every change that may revoke a client: connected ones are checked again then. */
  configVersion(): number;
  records: SessionRecords;
  events: EventLog;
  activeRecordingsDir: string;
  /** How long a paused resumable session waits for its legs (default 120 s). */
  resumeWindowMs?: number;
  log(msg: string, fields?: Record<string, unknown>): void;
}

/** Default resume window: long enough for an appliance to restart after an install. */
export const RESUME_WINDOW_MS = 120_000;

export interface LiveSession {
  id: string;
  representative: string;
  jumpClient: string;
  target: string;
  startedAt: number;
  bytesIn: number;
  bytesOut: number;
  /** A resumable session: the times it moved (resumed) and its total pause so far. */
  moves?: number;
  pausedMs?: number;
}

export interface ConnectedClient {
  id: string;
  kind: 'representative-console' | 'jump-client' | 'customer-client';
  name: string;
  group?: string;
  /** A customer client's representative (who gave it its session key). */
  representative?: string;
  address: string;
  version: string;
  connectedAt: number;
  /** Targets a Jump Client allows. */
  targets?: string[];
  sessions: LiveSession[];
}

interface Presence {
  client: ConnectedClient;
  /** The ticket it connected with, checked again when users or installations change. */
  claims: TicketClaims;
  /** The local address the client reached (a shared address moves to the other appliance). */
  via: string;
  channel: LineChannel<unknown>;
  lastSeen: number;
}

interface PendingSession {
  claims: Extract<TicketClaims, { kind: 'session' }>;
  consoleLeg: Duplex;
  timer: NodeJS.Timeout;
  /** The Jump Client's connection the open was sent on. */
  sentOn: Presence;
  /** The console's leg asked to be resumable. */
  resumable: boolean;
}

const OPEN_TIMEOUT_MS = 10_000;
/** A planned move pauses the sessions this long after telling their clients to move. */
const MOVE_AFTER_MS = 1_000;
/** How long an open may still be answered once the connection it was sent on closed. */
const DISCONNECTED_GRACE_MS = 6_000;
const PING_EVERY_MS = 15_000;
/** How often the gateway looks whether a revocation came (a look is one small query). */
const RECHECK_EVERY_MS = 1_000;
const SILENT_LIMIT_MS = 45_000;

const bearer = (req: IncomingMessage) => {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
};

/**
 * The client gateway of one appliance: Jump Clients and consoles connect here (on the TLS
 * port, by HTTP upgrade), and sessions are relayed here between a console and a Jump Client
 * that dialled the target. Every session is recorded and leaves a session record.
 */
export class ClientGateway {
  private readonly jumpClients = new Map<string, Presence>();
  private readonly consoles = new Map<string, Presence>();
  private readonly pending = new Map<string, PendingSession>();
  private readonly live = new Map<string, LiveSession>();
  /** Clients' multiplexed connections, closed when the appliance stops. */
  private readonly muxes = new Set<MuxConnection>();
  /** Both connections of each live session, closed when the appliance stops. */
  private readonly legs = new Map<string, [Duplex, Duplex]>();
  /** Session ids already used: a session ticket opens one session, once. */
  private readonly used = new Map<string, number>();
  private readonly pinger: NodeJS.Timeout;
  private readonly rechecker: NodeJS.Timeout;
  private checkedVersion: number;
  private draining = false;
  private closing = false;
  /** Resolves the finishing of sessions, so a stop can wait for their records. */
  private readonly finishing = new Set<Promise<unknown>>();

  private readonly resumption: SessionResumption;

  constructor(private readonly host: GatewayHost) {
    this.resumption = new SessionResumption({
      interApplianceKey: () => host.interApplianceKey(),
      windowMs: host.resumeWindowMs ?? RESUME_WINDOW_MS,
      runPart: (id, c, j, part) => this.run(id, c, j, part),
      refused: (id, name, reason) =>
        host.events.record(
          { area: 'login', name: id?.representative ?? 'unknown' },
          name,
          id?.session ?? '',
          { reason, ...(id ? { jumpClient: id.jumpClient, target: id.target } : {}) },
          'failed',
        ),
    });
    this.pinger = setInterval(() => this.ping(), PING_EVERY_MS);
    this.pinger.unref();
    this.checkedVersion = host.configVersion();
    this.rechecker = setInterval(() => this.recheck(), RECHECK_EVERY_MS);
    this.rechecker.unref();
  }

  /** Serve upgrades on this server (the appliance's HTTPS server, shared addresses included). */
  attach(server: {
    on(event: 'upgrade', fn: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): void;
  }): void {
    server.on('upgrade', (req, socket, head) => this.handle(req, socket, head));
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://gateway');
    socket.on('error', () => socket.destroy());
    try {
      if (req.headers.upgrade?.toLowerCase() !== UPGRADE_PROTOCOL)
        throw new GatehouseError(
          'UPGRADE_NOT_SUPPORTED',
          400,
          `This appliance upgrades connections only to ${UPGRADE_PROTOCOL} (Gatehouse clients).`,
        );
      this.checkAccepting();
      if (head.length) socket.unshift(head);
      const key = this.host.interApplianceKey();
      const ticket = bearer(req);
      const address = req.socket.remoteAddress ?? '';
      const version = String(req.headers['x-gatehouse-version'] ?? '');
      const checked = <K extends TicketKind>(kind: K | K[]) => {
        const claims = verifyTicket(key, ticket, kind);
        this.host.checkClient(claims);
        return claims;
      };
      switch (url.pathname) {
        case GATEWAY_PATHS.jumpClient:
          return this.jumpClientConnected(checked('jump-client'), socket, {
            address,
            version,
            targets: String(req.headers['x-gatehouse-targets'] ?? '')
              .split(',')
              .filter(Boolean),
          });
        case GATEWAY_PATHS.console:
          return this.consoleConnected(checked('console'), socket, {
            address,
            version,
          });
        case GATEWAY_PATHS.session:
        case GATEWAY_PATHS.jumpData:
          return this.legArrived(url.pathname, ticket, socket);
        case GATEWAY_PATHS.mux:
          checked(['console', 'jump-client', 'session', 'resume']);
          return this.muxConnected(socket);
        default:
          throw new GatehouseError('NOT_FOUND', 404, `No client endpoint at ${url.pathname}.`);
      }
    } catch (e) {
      refuseUpgrade(socket, this.asProblem(e), url.pathname);
    }
  }

  private asProblem(e: unknown): GatehouseError {
    if (e instanceof GatehouseError) return e;
    this.host.log('gateway error', { err: String(e) });
    return new GatehouseError('INTERNAL_ERROR', 500, 'The appliance could not accept the client.');
  }

  private checkAccepting(): void {
    if (this.closing)
      throw new GatehouseError(
        'APPLIANCE_STOPPING',
        503,
        'The appliance is stopping. Reconnect through the site hostname.',
      );
    if (!this.host.acceptsClients())
      throw new GatehouseError(
        'NOT_ACCEPTING_CLIENTS',
        503,
        'This appliance is a failover backup and accepts no client connections. Connect to the site hostname, which points at the primary.',
      );
  }

  /**
   * A client's multiplexed connection: each stream it opens is one session leg, with its own
   * session ticket, handled exactly as a leg on a connection of its own.
   */
  private muxConnected(socket: Duplex): void {
    acceptUpgrade(socket);
    const mux = new MuxConnection(socket, { onOpen: (r, stream) => this.legOpened(r, stream) });
    this.muxes.add(mux);
    mux.once('close', () => this.muxes.delete(mux));
  }

  private legOpened(request: unknown, stream: MuxStream): void {
    stream.on('error', () => stream.destroy());
    try {
      this.checkAccepting();
      const open = MuxOpenRequest.safeParse(request);
      if (!open.success)
        throw new GatehouseError('NOT_FOUND', 404, 'No client endpoint for this stream.');
      this.legArrived(open.data.path, open.data.ticket, stream, open.data.resume);
    } catch (e) {
      stream.refuse(this.asProblem(e));
    }
  }

  /**
   * A session leg, on a connection of its own or as a stream: the console's or the Jump
   * Client's, opening a session (session ticket) or taking a broken leg up (resume token).
   */
  private legArrived(
    path: string,
    ticket: string | undefined,
    leg: Duplex,
    resume?: MuxOpenRequest['resume'],
  ): void {
    const side = path === GATEWAY_PATHS.session ? 'console' : 'jump';
    let claims: TicketClaims;
    try {
      claims = verifyTicket(this.host.interApplianceKey(), ticket, ['session', 'resume']);
    } catch (e) {
      if (resume && ticket?.length)
        this.host.events.record(
          { area: 'login', name: 'unknown' },
          'session.resume.refused',
          '',
          { reason: (e as Error).message, side },
          'failed',
        );
      throw e;
    }
    this.host.checkClient(claims);
    if (claims.kind === 'resume') {
      // A node sending its clients away takes no session back: the client tries elsewhere.
      if (this.draining || !this.host.acceptsNewClients())
        throw new GatehouseError(
          'NODE_NOT_ACCEPTING',
          503,
          'This appliance is sending its sessions to another one. Resume through the site.',
        );
      if (!resume || !(leg instanceof MuxStream))
        throw new GatehouseError(
          'VALIDATION_FAILED',
          400,
          'A resume token opens only a resumable leg of a multiplexed connection.',
        );
      return this.resumption.returned(claims, side, leg, resume.received, resume.pausedMs);
    }
    const resumable = resume !== undefined && leg instanceof MuxStream;
    if (side === 'console') this.consoleLegArrived(claims, leg, resumable);
    else this.jumpLegArrived(claims, leg, resumable);
  }

  private checkNewClient(version: string): void {
    if (this.draining || !this.host.acceptsNewClients())
      throw new GatehouseError(
        'NODE_NOT_ACCEPTING',
        503,
        'This appliance is not accepting new client connections. Reconnect through the site hostname.',
      );
    if (version && compareVersions(version, this.host.version) > 0)
      throw new GatehouseError(
        'CLIENT_NEWER_THAN_SITE',
        426,
        `This client runs ${version}, newer than the site's ${this.host.version}; it stays offline until the site runs its version (or reinstall the site's client).`,
      );
  }

  private jumpClientConnected(
    claims: Extract<TicketClaims, { kind: 'jump-client' }>,
    socket: Duplex,
    info: { address: string; version: string; targets: string[] },
  ): void {
    this.checkNewClient(info.version);
    // The same Jump Client reconnecting replaces its old connection; a client of another kind
    // or another representative's customer never takes its place.
    const before = this.jumpClients.get(claims.sub);
    const installationOf = (c: TicketClaims) =>
      c.kind === 'jump-client' ? c.installation : undefined;
    if (
      before &&
      (before.client.representative !== claims.representative ||
        installationOf(before.claims) !== claims.installation)
    )
      throw new GatehouseError(
        'JUMP_CLIENT_NAME_IN_USE',
        409,
        `Another client named "${claims.sub}" is connected to this appliance.`,
      );
    before?.channel.close('replaced by a new connection');
    const presence = this.present(
      socket,
      claims,
      {
        // A customer client is a Jump Client its customer started with a representative's
        // session key: the same connection, shown as what it is, and only to that representative.
        kind: claims.representative ? 'customer-client' : 'jump-client',
        name: claims.sub,
        group: claims.group,
        ...(claims.representative ? { representative: claims.representative } : {}),
        ...info,
      },
      (v) => FromJumpClient.parse(v),
      (m) => {
        if (m.type === 'open-failed') this.openFailed(m.session, m.reason);
      },
      (reason) => {
        if (this.jumpClients.get(claims.sub) === presence) this.jumpClients.delete(claims.sub);
        this.host.log('jump client disconnected', { name: claims.sub, reason });
        // An open sent on this connection may have been lost with it (or the client, moving to
        // another node, may still be dialling and open the leg here): it gets a short grace, then
        // fails with a code the console retries on, through the node the client is on now.
        for (const [session, p] of this.pending)
          if (p.sentOn === presence) {
            clearTimeout(p.timer);
            p.timer = setTimeout(
              () =>
                this.openFailed(
                  session,
                  `it disconnected from this appliance (${reason}) and did not open the session`,
                  'JUMP_CLIENT_NOT_CONNECTED',
                ),
              DISCONNECTED_GRACE_MS,
            );
          }
      },
    );
    this.jumpClients.set(claims.sub, presence);
    this.host.log('jump client connected', { name: claims.sub, address: info.address });
  }

  private consoleConnected(
    claims: Extract<TicketClaims, { kind: 'console' }>,
    socket: Duplex,
    info: { address: string; version: string },
  ): void {
    this.checkNewClient(info.version);
    const presence: Presence = this.present(
      socket,
      claims,
      { kind: 'representative-console', name: claims.sub, ...info },
      (v) => v,
      () => undefined,
      () => this.consoles.delete(presence.client.id),
    );
    this.consoles.set(presence.client.id, presence);
  }

  /** Accept a client's control connection: its presence, kept fresh by every message. */
  private present<In>(
    socket: Duplex,
    claims: TicketClaims,
    client: Omit<ConnectedClient, 'id' | 'connectedAt' | 'sessions'>,
    parse: (v: unknown) => In,
    onMessage: (m: In) => void,
    onClose: (reason: string) => void,
  ): Presence {
    acceptUpgrade(socket);
    const presence: Omit<Presence, 'channel'> & { channel?: LineChannel<unknown> } = {
      client: { ...client, id: randomUUID(), connectedAt: Date.now(), sessions: [] },
      claims,
      lastSeen: Date.now(),
      via: (socket as { localAddress?: string }).localAddress ?? '',
    };
    presence.channel = new LineChannel<In>(
      socket,
      parse,
      (m) => {
        presence.lastSeen = Date.now();
        onMessage(m);
      },
      onClose,
    ) as LineChannel<unknown>;
    return presence as Presence;
  }

  /** A console asks for a session: ask the Jump Client to dial the target and connect back. */
  private consoleLegArrived(
    claims: Extract<TicketClaims, { kind: 'session' }>,
    socket: Duplex,
    resumable: boolean,
  ) {
    if (claims.sub.startsWith('jump-client:'))
      throw new GatehouseError(
        'CLIENT_TICKET_INVALID',
        401,
        'This ticket is for the Jump Client leg.',
      );
    if (this.used.has(claims.session) || this.pending.has(claims.session))
      throw new GatehouseError(
        'SESSION_TICKET_USED',
        409,
        'This session ticket was already used. Ask the site for a new session.',
      );
    const jump = this.jumpClients.get(claims.jumpClient);
    if (!jump)
      throw new GatehouseError(
        'JUMP_CLIENT_NOT_CONNECTED',
        404,
        `Jump Client "${claims.jumpClient}" is not connected to this appliance. List the connected ones with \`gatehouse console jump-clients\` and start the session again.`,
      );
    // The site checked this when it issued the ticket; the appliance relaying checks it again.
    if (jump.client.representative && jump.client.representative !== claims.sub)
      throw new GatehouseError(
        'CUSTOMER_NOT_YOURS',
        403,
        `"${claims.jumpClient}" is the customer of another representative.`,
      );
    this.used.set(claims.session, claims.exp);
    const timer = setTimeout(
      () =>
        this.openFailed(
          claims.session,
          `the Jump Client did not connect back within ${OPEN_TIMEOUT_MS / 1000} s`,
        ),
      OPEN_TIMEOUT_MS,
    );
    this.pending.set(claims.session, {
      claims,
      consoleLeg: socket,
      timer,
      sentOn: jump,
      resumable,
    });
    socket.once('close', () => {
      const p = this.pending.get(claims.session);
      if (p?.consoleLeg === socket) {
        clearTimeout(p.timer);
        this.pending.delete(claims.session);
      }
    });
    const jumpTicket = issueTicket(this.host.interApplianceKey(), {
      ...claims,
      sub: `jump-client:${claims.jumpClient}`,
    });
    const open: ToJumpClient = {
      type: 'open',
      session: claims.session,
      target: claims.target,
      ticket: jumpTicket,
    };
    jump.channel.send(open);
  }

  private openFailed(session: string, reason: string, code = 'SESSION_OPEN_FAILED'): void {
    const p = this.pending.get(session);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(session);
    this.host.events.record(
      { area: 'login', name: p.claims.sub },
      'session.refused',
      session,
      { jumpClient: p.claims.jumpClient, target: p.claims.target, reason },
      'failed',
    );
    refuseUpgrade(
      p.consoleLeg,
      new GatehouseError(
        code,
        code === 'JUMP_CLIENT_NOT_CONNECTED' ? 404 : 502,
        `Jump Client "${p.claims.jumpClient}" could not open ${p.claims.target}: ${reason}.`,
      ),
      GATEWAY_PATHS.session,
    );
  }

  private jumpLegArrived(
    claims: Extract<TicketClaims, { kind: 'session' }>,
    socket: Duplex,
    resumable: boolean,
  ) {
    const p = this.pending.get(claims.session);
    if (!p || claims.sub !== `jump-client:${p.claims.jumpClient}`)
      throw new GatehouseError(
        'SESSION_NOT_PENDING',
        404,
        'No session is waiting for this Jump Client connection (it timed out or the console left).',
      );
    clearTimeout(p.timer);
    this.pending.delete(claims.session);
    const id: SessionIdentity = {
      session: claims.session,
      representative: p.claims.sub,
      jumpClient: p.claims.jumpClient,
      target: p.claims.target,
    };
    // Both ends keep what the other has not acknowledged: the session outlives its legs.
    if (
      resumable &&
      p.resumable &&
      p.consoleLeg instanceof MuxStream &&
      socket instanceof MuxStream
    )
      return this.resumption.start(id, p.consoleLeg, socket);
    acceptUpgrade(socket);
    acceptUpgrade(p.consoleLeg);
    void this.run(id, p.consoleLeg, socket);
  }

  /**
   * Relay and record a session, or one part of a resumable one (`part`: its record is
   * `<session>.<part>` from the second part on, its recording header says where its bytes
   * start); resolves with how it ended, once its record is written.
   */
  private run(
    id: SessionIdentity,
    consoleLeg: Duplex,
    jumpLeg: Duplex,
    part?: SessionPart,
  ): Promise<SessionEnd | undefined> {
    const done = this.relayed(id, consoleLeg, jumpLeg, part);
    this.finishing.add(done);
    void done.finally(() => this.finishing.delete(done));
    return done;
  }

  private async relayed(
    id: SessionIdentity,
    consoleLeg: Duplex,
    jumpLeg: Duplex,
    part?: SessionPart,
  ): Promise<SessionEnd | undefined> {
    const session: LiveSession = {
      id: id.session,
      representative: id.representative,
      jumpClient: id.jumpClient,
      target: id.target,
      startedAt: Date.now(),
      bytesIn: 0,
      bytesOut: 0,
      ...(part ? { moves: part.moves, pausedMs: part.pausedMs } : {}),
    };
    const recordId = part && part.part > 1 ? `${id.session}.${part.part}` : id.session;
    const header = {
      session: recordId,
      appliance: this.host.name,
      representative: session.representative,
      jumpClient: session.jumpClient,
      target: session.target,
      startedAt: session.startedAt,
      ...(part ? { resumeOf: id.session, ...part } : {}),
    };
    const file = path.join(this.host.activeRecordingsDir, `${recordId}.rec`);
    let recording: RecordingWriter;
    try {
      recording = new RecordingWriter(file, header);
    } catch (e) {
      consoleLeg.destroy();
      jumpLeg.destroy();
      this.host.log('session not started: recording could not be created', { err: String(e) });
      return undefined;
    }
    this.live.set(session.id, session);
    this.legs.set(session.id, [consoleLeg, jumpLeg]);
    this.host.events.record(
      { area: 'login', name: session.representative },
      'session.started',
      session.id,
      {
        jumpClient: session.jumpClient,
        target: session.target,
        appliance: this.host.name,
        ...(part ? { part: part.part, moves: part.moves, pausedMs: part.pausedMs } : {}),
      },
    );
    const end = await relay(consoleLeg, jumpLeg, recording, session, part !== undefined);
    try {
      await recording.finish();
      await this.host.records.complete(header, end, file);
    } catch (e) {
      // The recording stays in the active directory; the next start turns it into a record.
      this.host.log('session record not written; kept for recovery at next start', {
        session: session.id,
        err: String(e),
      });
    } finally {
      this.live.delete(session.id);
      this.legs.delete(session.id);
      this.afterSession(session);
    }
    return end;
  }

  /** Not accepting (drain() already moved everyone): a client whose last session ended moves on. */
  private afterSession(session: LiveSession): void {
    if (!this.draining && this.host.acceptsNewClients()) return;
    const jump = this.jumpClients.get(session.jumpClient);
    if (jump && !this.sessionsOf(jump.client).length) this.move(jump, 'this node is draining');
    for (const c of this.consoles.values())
      if (!this.sessionsOf(c.client).length) this.move(c, 'this node is draining');
  }

  private move(p: Presence, reason: string): void {
    const message: ToJumpClient | ToConsole = { type: 'move', reason };
    p.channel.send(message);
    // The client reconnects through the site; close after it had time to read.
    setTimeout(() => p.channel.close('moved'), 2_000).unref();
  }

  private sessionsOf(c: ConnectedClient): LiveSession[] {
    return [...this.live.values()].filter((s) =>
      c.kind === 'representative-console' ? s.representative === c.name : s.jumpClient === c.name,
    );
  }

  /**
   * Stop taking new clients here and ask every connected one to reconnect through the site
   * (which sends it to another node). Resumable sessions follow a second later (they pause and
   * resume there); others go on: each runs on legs of its own, not the control connection. Were a Jump Client in a session kept here until it
   * is idle, the next session for it would come here too, and a busy one would never leave.
   */
  drain(): void {
    this.draining = true;
    for (const p of [...this.jumpClients.values(), ...this.consoles.values()])
      this.move(p, 'this node is draining');
    this.moveSessionsSoon('this node is draining');
  }

  /**
   * A drain: once the clients had a moment to reconnect through the site (MOVE_AFTER_MS),
   * every resumable session here is paused (both legs reset with SESSION_PAUSED) and its clients
   * resume it where the site now sends them. Sessions of previous-release clients go on here.
   */
  private moveSessionsSoon(reason: string): void {
    setTimeout(() => {
      for (const [id, legs] of this.legs) {
        const live = this.live.get(id);
        if (live?.moves === undefined) continue;
        const paused = new GatehouseError('SESSION_PAUSED', 503, `The session moves: ${reason}.`);
        for (const leg of legs) leg.destroy(paused);
      }
    }, MOVE_AFTER_MS).unref();
  }

  /**
   * Clients this node still serves: those connected here and those whose sessions still run
   * here after they moved. Draining is over when it reaches zero.
   */
  connectedCount(): number {
    const names = new Set<string>();
    for (const p of this.jumpClients.values()) names.add(`jump-client:${p.client.name}`);
    for (const p of this.consoles.values()) names.add(`console:${p.client.name}`);
    for (const s of this.live.values()) {
      names.add(`jump-client:${s.jumpClient}`);
      names.add(`console:${s.representative}`);
    }
    // A session being opened (its Jump Client still dialling the target) is one too.
    for (const p of this.pending.values()) {
      names.add(`jump-client:${p.claims.jumpClient}`);
      names.add(`console:${p.claims.sub}`);
    }
    return names.size;
  }

  /**
   * Ask every connected client to reconnect through the site now (this appliance became the
   * failover backup): their sessions in progress go on, new ones go to the new primary.
   */
  moveAll(reason: string): void {
    for (const p of [...this.jumpClients.values(), ...this.consoles.values()]) this.move(p, reason);
  }

  /** Clients that came in through an address this appliance just released follow the address. */
  moveConnectedVia(address: string, reason: string): void {
    const plain = (a: string) => a.replace(/^::ffff:/, '');
    for (const p of [...this.jumpClients.values(), ...this.consoles.values()])
      if (plain(p.via) === plain(address)) this.move(p, reason);
  }

  undrain(): void {
    this.draining = false;
  }

  /** Connected clients with their live sessions (Status > Information). */
  list(): ConnectedClient[] {
    return [...this.jumpClients.values(), ...this.consoles.values()]
      .map((p) => ({ ...p.client, sessions: this.sessionsOf(p.client) }))
      .sort((a, b) => a.connectedAt - b.connectedAt);
  }

  jumpClient(name: string): ConnectedClient | undefined {
    const p = this.jumpClients.get(name);
    return p && { ...p.client, sessions: this.sessionsOf(p.client) };
  }

  liveSessions(): LiveSession[] {
    return [...this.live.values()];
  }

  private ping(): void {
    const now = Date.now();
    for (const [id, exp] of this.used) if (exp < now) this.used.delete(id);
    for (const p of [...this.jumpClients.values(), ...this.consoles.values()]) {
      if (now - p.lastSeen > SILENT_LIMIT_MS) p.channel.close('no answer to pings');
      else p.channel.send({ type: 'ping' });
    }
  }

  /**
   * Users or Jump Client installations changed (here, or by a sync or a cluster push): every
   * connected client whose ticket is no longer honoured is cut, with its sessions in progress.
   */
  private recheck(): void {
    let version: number;
    try {
      version = this.host.configVersion();
    } catch {
      return; // the database is closing with the appliance
    }
    if (version === this.checkedVersion) return;
    this.checkedVersion = version;
    for (const p of [...this.jumpClients.values(), ...this.consoles.values()]) {
      try {
        this.host.checkClient(p.claims);
      } catch (e) {
        const reason = e instanceof GatehouseError ? e.code : String(e);
        this.host.log('client revoked: connection cut', { name: p.client.name, reason });
        for (const s of this.sessionsOf(p.client))
          for (const leg of this.legs.get(s.id) ?? []) leg.destroy();
        p.channel.close(`revoked (${reason})`);
      }
    }
  }

  /** Stop the timers (the appliance closes; connections go with the process). */
  stop(): void {
    clearInterval(this.pinger);
    clearInterval(this.rechecker);
  }

  /** Close every client connection and wait for the records of the sessions cut short. */
  async close(): Promise<void> {
    this.closing = true;
    this.stop();
    this.resumption.close();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.consoleLeg.destroy();
    }
    this.pending.clear();
    for (const p of [...this.jumpClients.values(), ...this.consoles.values()])
      p.channel.close('appliance stopping');
    for (const legs of this.legs.values()) for (const leg of legs) leg.destroy();
    for (const mux of this.muxes) mux.close('appliance stopping');
    await Promise.allSettled([...this.finishing]);
  }
}
