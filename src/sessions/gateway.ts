import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatehouseError } from '../shared/errors.js';
import { compareVersions } from '../shared/version.js';
import {
  acceptUpgrade,
  GATEWAY_PATHS,
  MuxOpenRequest,
  refuseUpgrade,
  UPGRADE_PROTOCOL,
} from './protocol.js';
import { MuxConnection, MuxStream } from './mux.js';
import { SessionResumption } from './resume.js';
import { verifyTicket, type TicketClaims, type TicketKind } from './tickets.js';
import {
  GatewayState,
  RESUME_WINDOW_MS,
  type ConnectedClient,
  type GatewayHost,
  type LiveSession,
} from './gateway-state.js';
import { ClientPresence } from './presence.js';
import { JumpClientUpgrades } from './jump-client-upgrades.js';
import { SessionPairing } from './pairing.js';
import { SessionRunner } from './session-runner.js';
import { GatewayDrain } from './drain.js';
import { ClientRecords, parseDisconnected } from './client-records.js';
import { ClientApiConnections } from './api-connections.js';
import type { Relay } from './routing.js';
import { sessionsErrors } from './error-codes.js';
import { sharedErrors } from '../shared/error-codes.js';

export {
  RESUME_WINDOW_MS,
  type ConnectedClient,
  type GatewayHost,
  type LiveSession,
} from './gateway-state.js';

/** Which client a refused upgrade was, by the endpoint it asked for. */
const kindOf = (pathname: string) =>
  pathname === GATEWAY_PATHS.jumpClient
    ? 'jump-client'
    : pathname === GATEWAY_PATHS.console
      ? 'representative-console'
      : 'session-leg';

const bearer = (req: IncomingMessage) => {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
};

/**
 * The client gateway of one appliance: Jump Clients and consoles connect here (on the TLS
 * port, by HTTP upgrade), and sessions are relayed here between a console and a Jump Client
 * that dialled the target. Every session is recorded and leaves a session record.
 *
 * This class takes connections in and hands them to its parts: the presence of clients
 * (presence.ts), pairing a session's legs (pairing.ts), running a session (session-runner.ts),
 * resuming one (resume.ts) and draining the node (drain.ts); they share gateway-state.ts.
 */
export class ClientGateway {
  private readonly state: GatewayState;
  private readonly presence: ClientPresence;
  private readonly pairing: SessionPairing;
  private readonly runner: SessionRunner;
  private readonly drainer: GatewayDrain;
  private readonly resumption: SessionResumption;
  /** Clients' multiplexed connections, closed when the appliance stops. */
  private readonly muxes = new Set<MuxConnection>();
  /** What the clients went through: refusals, reconnections (the upgrade report sums them). */
  readonly records: ClientRecords;
  /** Clients' kept-alive connections to the clients' API, closed when idle as they move. */
  readonly apiConnections = new ClientApiConnections();
  /** Connected Jump Clients upgrading to this appliance's version in waves (S13). */
  readonly upgrades: JumpClientUpgrades;
  private readonly upgradeTicker: NodeJS.Timeout;

  constructor(private readonly host: GatewayHost) {
    this.state = new GatewayState(host);
    this.records = new ClientRecords(host.events);
    this.upgrades = new JumpClientUpgrades({
      target: () => host.version,
      settings: () => host.upgradeWaves(),
      connected: () =>
        [...this.state.jumpClients.values()]
          .filter((p) => p.client.kind === 'jump-client')
          .map(({ client: c }) => ({
            name: c.name,
            group: c.group ?? 'default',
            version: c.version,
            upgradable: c.upgradable === true,
          })),
      askToUpgrade: (name, version) => this.presence.askToUpgrade(name, version),
      event: (action, target, details) =>
        host.events.record({ area: 'system', name: host.name }, action, target, details),
      now: () => Date.now(),
    });
    this.upgradeTicker = setInterval(() => this.upgrades.tick(), 1_000);
    this.upgradeTicker.unref();
    // The resumable sessions paused here, for the drain and the planned moves (made below).
    this.drainer = new GatewayDrain(this.state, {
      sendWaitingAway: (away, reason) => this.resumption.sendWaitingAway(away, reason),
      pausedHere: () => this.resumption.pausedHere(),
    });
    this.runner = new SessionRunner(this.state, (s) => this.drainer.sessionEnded(s));
    this.resumption = new SessionResumption({
      interApplianceKey: () => host.interApplianceKey(),
      windowMs: host.resumeWindowMs ?? RESUME_WINDOW_MS,
      runPart: (id, c, j, part) => this.runner.run(id, c, j, part),
      refused: (id, name, reason) =>
        host.events.record(
          { area: 'login', name: id?.representative ?? 'unknown' },
          name,
          id?.session ?? '',
          { reason, ...(id ? { jumpClient: id.jumpClient, target: id.target } : {}) },
          'failed',
        ),
      waiting: (id, side) => {
        host.log('session leg waits for the other side', { session: id.session, side });
        // Once the leg's arrival is done: a move under way may send it on at once.
        queueMicrotask(() => this.drainer.changed());
      },
    });
    this.pairing = new SessionPairing(this.state, {
      resumable: (id, c, j) => this.resumption.start(id, c, j),
      plain: (id, c, j) => void this.runner.run(id, c, j),
    });
    this.presence = new ClientPresence(this.state, {
      openFailed: (session, reason) => this.pairing.openFailed(session, reason),
      upgradeFailed: (name, reason) => this.upgrades.upgradeFailed(name, reason),
      jumpClientLost: (p, reason) => {
        this.pairing.jumpClientLost(p, reason);
        // Once a connection replacing this one (the same Jump Client back) took its place.
        queueMicrotask(() => this.drainer.changed());
      },
      tick: (now) => this.pairing.sweep(now),
    });
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
        throw sessionsErrors.UPGRADE_NOT_SUPPORTED(
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
      const back = parseDisconnected(req.headers['x-gatehouse-disconnected']);
      switch (url.pathname) {
        case GATEWAY_PATHS.jumpClient: {
          const claims = checked('jump-client');
          this.jumpClientConnected(claims, socket, {
            address,
            version,
            targets: String(req.headers['x-gatehouse-targets'] ?? '')
              .split(',')
              .filter(Boolean),
            upgradable: req.headers['x-gatehouse-upgradable'] === 'installation',
          });
          if (back) this.records.reconnected(claims.sub, 'jump-client', back.ms, back.reason);
          return;
        }
        case GATEWAY_PATHS.console: {
          const claims = checked('console');
          this.consoleConnected(claims, socket, { address, version });
          if (back)
            this.records.reconnected(claims.sub, 'representative-console', back.ms, back.reason);
          return;
        }
        case GATEWAY_PATHS.session:
        case GATEWAY_PATHS.jumpData:
          return this.legArrived(url.pathname, ticket, socket);
        case GATEWAY_PATHS.mux:
          checked(['console', 'jump-client', 'session', 'resume']);
          return this.muxConnected(socket);
        default:
          throw sharedErrors.NOT_FOUND(`No client endpoint at ${url.pathname}.`);
      }
    } catch (e) {
      const problem = this.asProblem(e);
      this.records.refused(problem.code, kindOf(url.pathname));
      refuseUpgrade(socket, problem, url.pathname);
    }
  }

  private asProblem(e: unknown): GatehouseError {
    if (e instanceof GatehouseError) return e;
    this.host.log('gateway error', { err: String(e) });
    return sharedErrors.INTERNAL_ERROR('The appliance could not accept the client.');
  }

  private checkAccepting(): void {
    if (this.state.closing)
      throw sessionsErrors.APPLIANCE_STOPPING(
        'The appliance is stopping. Reconnect through the site hostname.',
      );
    if (!this.host.acceptsClients())
      throw sessionsErrors.NOT_ACCEPTING_CLIENTS(
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
      if (!open.success) throw sharedErrors.NOT_FOUND('No client endpoint for this stream.');
      this.legArrived(open.data.path, open.data.ticket, stream, open.data.resume);
    } catch (e) {
      const problem = this.asProblem(e);
      this.records.refused(problem.code, 'session-leg');
      stream.refuse(problem);
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
      if (!this.state.accepting())
        throw sessionsErrors.NODE_NOT_ACCEPTING(
          'This appliance is sending its sessions to another one. Resume through the site.',
        );
      if (!resume || !(leg instanceof MuxStream))
        throw sharedErrors.VALIDATION_FAILED(
          'A resume token opens only a resumable leg of a multiplexed connection.',
        );
      return this.resumption.returned(claims, side, leg, resume.received, resume.pausedMs);
    }
    const resumable = resume !== undefined && leg instanceof MuxStream;
    if (side === 'console') this.pairing.consoleLegArrived(claims, leg, resumable);
    else this.pairing.jumpLegArrived(claims, leg, resumable);
  }

  private checkNewClient(version: string): void {
    if (!this.state.accepting())
      throw sessionsErrors.NODE_NOT_ACCEPTING(
        'This appliance is not accepting new client connections. Reconnect through the site hostname.',
      );
    if (version && compareVersions(version, this.host.version) > 0)
      throw sessionsErrors.CLIENT_NEWER_THAN_SITE(
        `This client runs ${version}, newer than the site's ${this.host.version}; it stays offline until the site runs its version (or reinstall the site's client).`,
      );
  }

  private jumpClientConnected(
    claims: Extract<TicketClaims, { kind: 'jump-client' }>,
    socket: Duplex,
    info: { address: string; version: string; targets: string[]; upgradable: boolean },
  ): void {
    this.checkNewClient(info.version);
    this.presence.jumpClientConnected(claims, socket, info);
  }

  private consoleConnected(
    claims: Extract<TicketClaims, { kind: 'console' }>,
    socket: Duplex,
    info: { address: string; version: string },
  ): void {
    this.checkNewClient(info.version);
    this.presence.consoleConnected(claims, socket, info);
  }

  /**
   * Stop taking new clients; move the connected ones (to `to`, an accepting node, when the
   * primary node named one) and their resumable sessions away.
   */
  drain(to?: Relay): void {
    void this.drainer.drain(to);
  }

  undrain(): void {
    this.drainer.undrain();
  }

  /** Clients this node still serves (connected, or with a session still running here). */
  connectedCount(): number {
    return this.drainer.connectedCount();
  }

  /**
   * Ask every connected client to reconnect now (this appliance installs, became the failover
   * backup or left the cluster): straight to `to` (an appliance that accepts them: the peer that
   * took the primary role, an accepting node) when this appliance knows one, else through the
   * site. New sessions go where they went, and resumable sessions follow their Jump Client
   * there; those of previous-release clients go on here. Consoles' kept-alive connections to
   * the clients' API close (a busy one after its answer): their next call connects where the
   * site's name leads now.
   */
  moveAll(reason: string, to?: Relay): void {
    const moved = this.presence.moveAll(reason, to);
    this.apiConnections.closeIdle();
    // Sent straight to another appliance, the Jump Clients are known to be elsewhere once gone.
    void this.drainer.sessionsFollowClients(reason, to ? moved : []);
  }

  /** Clients that came in through an address this appliance just released follow the address. */
  moveConnectedVia(address: string, reason: string): void {
    const moved = this.presence.moveConnectedVia(address, reason);
    // The address leads elsewhere now: so do those Jump Clients, once gone from here.
    void this.drainer.sessionsFollowClients(reason, moved);
  }

  /** Connected clients with their live sessions (Status > Information). */
  list(): ConnectedClient[] {
    return this.presence.list();
  }

  jumpClient(name: string): ConnectedClient | undefined {
    return this.presence.jumpClient(name);
  }

  liveSessions(): LiveSession[] {
    return [...this.state.live.values()];
  }

  /** Stop the timers (the appliance closes; connections go with the process). */
  stop(): void {
    this.presence.stop();
    clearInterval(this.upgradeTicker);
    this.records.stop();
  }

  /** Close every client connection and wait for the records of the sessions cut short. */
  async close(): Promise<void> {
    this.state.closing = true;
    this.stop();
    this.drainer.close();
    this.resumption.close();
    this.pairing.close();
    this.presence.closeAll('appliance stopping');
    const stopped = this.runner.close();
    for (const mux of this.muxes) mux.close('appliance stopping');
    await stopped;
  }
}
