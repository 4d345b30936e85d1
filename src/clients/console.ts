import net from 'node:net';
import type { Duplex } from 'node:stream';

import { pipeByTick } from '../shared/streams.js';
import { PRODUCT_VERSION } from '../shared/version.js';
import { until } from '../shared/until.js';
import { jittered } from '../shared/jitter.js';
import { TryLimit } from '../shared/move-retry.js';
import { GATEWAY_PATHS, LineChannel, type ToConsole } from '../sessions/protocol.js';
import type { MuxStream } from '../sessions/mux.js';
import type { Relay } from '../sessions/routing.js';
import {
  isConnectionError,
  relayEndpoint,
  SiteApi,
  siteEndpoint,
  type SiteInfo,
} from './site-api.js';
import { RelayConnections } from './relay-connections.js';
import { ResumableLeg, resumeAnswerOf } from './resumable-leg.js';
import { openTunnel, type Endpoint } from './tunnel.js';
import { sharedErrors } from '../shared/error-codes.js';
import { sessionsErrors } from '../sessions/error-codes.js';

export interface ConsoleSignIn {
  site: Endpoint;
  ticket: string;
  expiresAt: string;
  siteInfo: SiteInfo;
  relay: Relay | null;
}

/**
 * The representative console: signs in to the site with a site user, lists Jump Clients, and
 * runs sessions that carry any TCP protocol from a local port through the site to a Jump
 * Client's target.
 */
/** How long a session start waits for a Jump Client that is moving between appliances. */
const MOVE_WAIT_MS = 5_000;
/** How long a session start keeps asking again while its Jump Client moves (once or more). */
const START_WAIT_MS = 15_000;
/** The least pause between two session starts for a moving Jump Client (spread ±25 %). */
const START_PAUSE_MS = 250;
/** How many times a session start is tried while its Jump Client moves. */
const START_TRIES = 8;

export class RepresentativeConsole {
  readonly api: SiteApi;
  private presence: LineChannel<ToConsole> | undefined;
  /** Session legs, multiplexed over one connection per appliance. */
  private readonly relays = new RelayConnections();
  private stopped = false;
  private presenceRetry: NodeJS.Timeout | undefined;
  /** Where the last move sent the presence (an accepting node), if the appliance said. */
  private presenceRelay: Relay | undefined;
  /**
   * Offer resumable legs (true): false opens sessions as a console of the previous release did,
   * cut with their relay (tests hold a node with one).
   */
  offerResume = true;
  /** How long a broken session leg tries to resume (default 120 s), and where that is told. */
  resumeWindowMs: number | undefined;
  log: ((line: string) => void) | undefined;

  constructor(readonly signIn: ConsoleSignIn) {
    this.api = new SiteApi(signIn.site);
  }

  static async signIn(
    site: Endpoint,
    username: string,
    password: string,
    region?: string,
  ): Promise<RepresentativeConsole> {
    const api = new SiteApi(site);
    try {
      const r = await api.signIn({ username, password, version: PRODUCT_VERSION, region });
      return new RepresentativeConsole({
        site: siteEndpoint(site, r.site),
        ticket: r.ticket,
        expiresAt: r.expiresAt,
        siteInfo: r.site,
        relay: r.relay,
      });
    } finally {
      await api.close();
    }
  }

  /** A session key to give a customer, whose customer client joins with it (once, 20 min). */
  sessionKey() {
    return this.api.sessionKey(this.signIn.ticket);
  }

  async jumpClients() {
    return (await this.api.jumpClients(this.signIn.ticket)).jumpClients;
  }

  /**
   * Open one session: the returned stream carries the target's bytes. Clients move while a
   * site changes (a failover, a switch, a draining traffic node): when the appliance that
   * answered cannot be reached for the session's leg, or no longer holds the Jump Client, the
   * console waits a few seconds for the site to list the Jump Client somewhere else and asks
   * again (for START_WAIT_MS and START_TRIES at most: a client may move twice in a row).
   * With `allowHalfOpen` a resumable session stays writable after the target ended its side
   * (as a socket with that option does); by default this side then ends too.
   */
  async openSession(
    jumpClient: string,
    target: string,
    opts: { allowHalfOpen?: boolean } = {},
  ): Promise<{ session: string; socket: Duplex; node?: string }> {
    let triedNode: string | undefined;
    const once = async () => {
      const s = await this.api.startSession(this.signIn.ticket, { jumpClient, target });
      triedNode = s.relay?.node;
      this.log?.(`session ${s.session}: relayed by ${triedNode ?? 'the site'}`);
      const socket = await this.relays.openLeg(
        relayEndpoint(this.signIn.site, s.relay),
        GATEWAY_PATHS.session,
        s.ticket,
        15_000,
        this.offerResume ? { received: 0, pausedMs: 0 } : undefined,
      );
      const leg = this.resumable(s.session, jumpClient, socket, opts.allowHalfOpen);
      return { session: s.session, socket: leg, node: triedNode };
    };
    // A Jump Client moving twice (both nodes of a region draining at once) may still be listed
    // where it just left: the console asks again each time it is listed somewhere new.
    const limit = new TryLimit({ tries: START_TRIES, withinMs: START_WAIT_MS });
    for (;;) {
      triedNode = undefined;
      try {
        return await once();
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (!isConnectionError(e) && code !== 'JUMP_CLIENT_NOT_CONNECTED') throw e;
        if (!limit.again()) throw e;
        this.log?.(
          `session start through ${triedNode ?? 'the site'} failed: ${(e as Error).message}`,
        );
        // The leg may have reached another appliance than the kept-alive API connection did
        // (the site's name now leads elsewhere): ask the site afresh, over new connections.
        this.followSite();
        const moved = await this.listedAnew(jumpClient, triedNode, limit.deadline);
        // A Jump Client that is simply offline: its error, not a second one.
        if (!moved && code === 'JUMP_CLIENT_NOT_CONNECTED' && triedNode === undefined) throw e;
      }
    }
  }

  /**
   * Whether the site lists the Jump Client anew within the move wait: somewhere else than the
   * node it was tried on, or (no node tried: the start failed before one was named) anywhere
   * other than where it was listed at the failure. Never at once: each pass pauses a little
   * (spread, so that consoles do not ask in step), or a listing that still names the old place
   * would send the console round again without a pause until START_WAIT_MS.
   */
  private async listedAnew(jumpClient: string, left: string | undefined, deadline: number) {
    const listed = async () =>
      (await this.jumpClients())
        .filter((x) => x.name === jumpClient)
        .map((x) => x.node)
        .sort()
        .join(',');
    const before = left === undefined ? await listed().catch(() => undefined) : undefined;
    await new Promise((r) => setTimeout(r, jittered(START_PAUSE_MS)));
    return until(
      async () => {
        if (left !== undefined)
          // The site may still list it where it was, beside where it is now.
          return (await this.jumpClients()).some((x) => x.name === jumpClient && x.node !== left);
        const now = await listed();
        return now !== '' && now !== before;
      },
      Math.min(MOVE_WAIT_MS, Math.max(0, deadline - Date.now())),
      `Jump Client "${jumpClient}" to be back on the site`,
      200,
    ).then(
      () => true,
      // Listed all along where it was (the site's listing lags): tried again, not offline.
      async () => left === undefined && !!before && (await listed().catch(() => '')) !== '',
    );
  }

  /**
   * The leg as a resumable one when the appliance offered it (an appliance of the previous
   * release did not): after a break it is taken up again where the site now relays the
   * session, the appliance holding its Jump Client.
   */
  private resumable(
    session: string,
    jumpClient: string,
    leg: Duplex,
    allowHalfOpen = false,
  ): Duplex {
    if (!resumeAnswerOf(leg)) return leg;
    return new ResumableLeg(
      leg as MuxStream,
      session,
      async (token, resume, timeoutMs) => {
        // A closed console opens nothing more (a new API client would keep the process alive).
        if (this.stopped) throw sessionsErrors.SESSION_ENDED('The console closed.');
        // Through the site afresh: the appliance the kept connection led to may be gone.
        this.api.reconnect();
        const { relay } = await this.api.resumeRelay(this.signIn.ticket, session, jumpClient);
        const endpoint = relayEndpoint(this.signIn.site, relay);
        return this.relays.openLeg(endpoint, GATEWAY_PATHS.session, token, timeoutMs, resume);
      },
      // Read when a line comes: a log set after the session opened gets its lines too.
      { windowMs: this.resumeWindowMs, allowHalfOpen, log: (line) => this.log?.(line) },
    );
  }

  /**
   * Keep the console's presence on the site (shown on Status > Information); when its node
   * drains, it reconnects through the site.
   */
  async connectPresence(onLine?: (line: string) => void): Promise<void> {
    if (this.stopped) return;
    const relay = relayEndpoint(this.signIn.site, this.presenceRelay ?? this.signIn.relay);
    const socket = await openTunnel(relay, GATEWAY_PATHS.console, this.signIn.ticket);
    // Closed while connecting: nothing may keep the process alive after close().
    if (this.stopped) return void socket.destroy();
    this.presence = new LineChannel<ToConsole>(
      socket,
      (v) => v as ToConsole,
      (m) => {
        if (m.type === 'ping') this.presence?.send({ type: 'pong' });
        if (m.type === 'move') {
          onLine?.(`asked to move: ${m.reason}${m.to ? ` (to ${m.to.node})` : ''}`);
          // Straight to the accepting node a draining one named; else where the sign-in led.
          this.presenceRelay = m.to;
          this.followSite();
          this.presence?.close('moved');
        }
      },
      (reason) => {
        if (this.stopped) return;
        onLine?.(`presence closed: ${reason}; reconnecting`);
        this.reconnectPresence(onLine, reason === 'moved' ? 0 : 1_000);
      },
    );
  }

  /**
   * As connectPresence, but a first connection that fails is tried again every second too (the
   * site may be restarting or moving just then), until close().
   */
  keepPresence(onLine?: (line: string) => void): void {
    this.reconnectPresence(onLine, 0);
  }

  /** Through the site afresh: new calls and session legs do not go back over kept connections. */
  private followSite(): void {
    this.api.reconnect();
    this.relays.retireAll();
  }

  /** Try again later while not closed (the site may be restarting or moving). */
  private reconnectPresence(onLine: ((line: string) => void) | undefined, delayMs: number): void {
    clearTimeout(this.presenceRetry);
    this.presenceRetry = setTimeout(() => {
      if (this.stopped) return;
      this.connectPresence(onLine).catch((e: Error) => {
        onLine?.(`presence: ${e.message}; retrying`);
        this.presenceRelay = undefined;
        this.reconnectPresence(onLine, 1_000);
      });
    }, delayMs);
  }

  /**
   * Forward a local TCP port through the site to a Jump Client's target: every connection
   * accepted locally is one session. Resolves once listening.
   */
  async forward(
    jumpClient: string,
    target: string,
    listen: { host: string; port: number },
    onEvent: (line: string) => void = () => undefined,
  ): Promise<net.Server> {
    // Half-open: the target's answer after the local client's FIN still reaches it.
    const server = net.createServer(
      { noDelay: true, pauseOnConnect: true, allowHalfOpen: true },
      (local) => {
        local.on('error', () => undefined);
        this.openSession(jumpClient, target, { allowHalfOpen: true }).then(
          ({ session, socket }) => {
            onEvent(
              `session ${session} started: ${local.remoteAddress}:${local.remotePort} → ${jumpClient} → ${target}`,
            );
            socket.on('error', (e) => {
              onEvent(`session ${session} ended: ${e.message}`);
              local.destroy();
            });
            local.on('error', () => socket.destroy());
            local.on('close', () => socket.end());
            socket.on('close', () => {
              local.end();
              onEvent(`session ${session} ended`);
            });
            local.pipe(socket);
            pipeByTick(socket, local);
            local.resume();
          },
          (e: Error) => {
            onEvent(`session not started: ${e.message}`);
            local.destroy();
          },
        );
      },
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          sharedErrors.LISTEN_FAILED(
            `--listen ${listen.host}:${listen.port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}. Choose another local port.`,
          ),
        ),
      );
      server.listen(listen.port, listen.host, () => resolve());
    });
    return server;
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.presenceRetry);
    this.presence?.close('console closed');
    this.relays.close();
    await this.api.close();
  }
}
