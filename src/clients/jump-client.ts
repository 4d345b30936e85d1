import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';

import { until } from '../shared/until.js';
import { PRODUCT_VERSION } from '../shared/version.js';
import type { MuxStream } from '../sessions/mux.js';
import { pipeByTick } from '../shared/streams.js';
import {
  GATEWAY_PATHS,
  LineChannel,
  Relay,
  type FromJumpClient,
  type ToJumpClient,
} from '../sessions/protocol.js';
import { relayEndpoint, SiteApi, siteEndpoint } from './site-api.js';
import { InstallationIdentity } from './installation-identity.js';
import { registerInstallation } from './installation-registration.js';
import { connectTarget } from './target-connection.js';
import { JumpClientSelfUpgrade } from './jump-client-upgrade.js';
import { RelayConnections } from './relay-connections.js';
import { ResumableLeg, resumeAnswerOf } from './resumable-leg.js';
import { openTunnel, type Endpoint } from './tunnel.js';
import { JumpClientReconnect, moveTarget } from './jump-client-reconnect.js';
import { sessionsErrors } from '../sessions/error-codes.js';

interface CommonOptions {
  site: Endpoint;
  /** The only targets (host:port) this Jump Client opens connections to. */
  allow: string[];
  region?: string;
  log?: (line: string) => void;
  /**
   * The site refused this client for good (a customer client's session key is wrong, used or
   * expired, or its ticket expired): it has stopped.
   */
  onRefused?: (e: Error) => void;
  /** How long a broken session leg tries to resume (default 120 s). */
  resumeWindowMs?: number;
  /** A client started again after losing the site: since when it has been away, and why. */
  disconnected?: { since: number; reason: string };
}

export type JumpClientOptions = CommonOptions &
  (
    | {
        name: string;
        group: string;
        /**
         * What enrols this installation the first time: an enrolment token from the site's
         * administrator, or (on a site upgraded from the previous release, while its window is
         * open) the site-wide legacy Jump Client key. Unused once enrolled.
         */
        token: string;
        /** The file keeping this installation's key pair and id (else: for this process only). */
        identity?: string;
        /**
         * The installation it runs from (src/clients/jump-client-installation.ts): it replaces
         * itself with the site's build when its upgrade wave comes, then `onUpgraded` runs.
         */
        installation?: { dir: string; onUpgraded: (version: string) => void };
      }
    | {
        /**
         * A customer client: the session key a representative gave. It joins once with it and
         * reconnects with the ticket that gave; the site names it and shows it only to that
         * representative.
         */
        sessionKey: string;
      }
  );

export type JumpClientState = 'connecting' | 'connected' | 'waiting' | 'stopped';

/** How long a connection straight to where a move named may take before the site is asked. */
const MOVED_TRY_MS = 4_000;
const SILENT_LIMIT_MS = 45_000;

/**
 * A Jump Client: keeps one outbound control connection to the site (to the node the site
 * names), reconnecting with exponential backoff, and on the site's request dials an allowed
 * local target and connects that to the session as a stream of its outbound relay connection to
 * that appliance. It opens nothing else and listens on no port.
 */
export class JumpClient {
  state: JumpClientState = 'connecting';
  /** The appliance the control connection is on. */
  connectedTo: string | undefined;
  /** Where its session legs go now: the appliance of its control connection. */
  private relayNow: Endpoint | undefined;
  /** Where the appliance that asked it to move said to go (tried once, then the site). */
  private movedTo: Relay | undefined;
  /** The ticket of its last registration, which a move straight to another appliance reuses. */
  private ticket: { value: string; exp: number } | undefined;
  lastError: string | undefined;
  /** Disconnections it came back from, and their total length (what it told the site). */
  readonly reconnections = { count: 0, downMs: 0 };
  /** Since when, and why, it has been without a control connection (after having one). */
  private down: { since: number; reason: string } | undefined;
  /** A customer client's name on the site and its representative, once joined. */
  customer: { name: string; representative: string } | undefined;
  private customerTicket: string | undefined;
  /** Sent with the join: a join repeated after its answer was lost gets the same answer. */
  private readonly joinNonce = randomBytes(16).toString('base64url');
  private channel: LineChannel<ToJumpClient> | undefined;
  private api: SiteApi;
  /** The site, trusting every certificate it named at registration (its failover peer too). */
  private site: Endpoint;
  private stopped = false;
  private readonly reconnect = new JumpClientReconnect();
  private retry: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly sessions = new Set<Duplex>();
  /** Session legs, multiplexed over one connection per appliance. */
  private readonly relays = new RelayConnections();
  /** A Jump Client's own key pair and enrolment (a customer client has none). */
  private readonly identity: InstallationIdentity | undefined;
  private readonly selfUpgrade: JumpClientSelfUpgrade | undefined;

  constructor(private readonly opts: JumpClientOptions) {
    this.site = opts.site;
    this.down = opts.disconnected;
    this.api = new SiteApi(opts.site);
    if (!('sessionKey' in opts)) {
      this.identity = InstallationIdentity.open(opts.name, opts.identity);
      if (opts.installation)
        this.selfUpgrade = new JumpClientSelfUpgrade(opts.installation.dir, (l) => this.log(l));
    }
  }

  /** Since when, and why, it has been away from the site; undefined while connected. */
  get disconnectedSince(): { since: number; reason: string } | undefined {
    return this.down;
  }

  /** Its name on the site (a customer client's, once it joined). */
  get name(): string | undefined {
    return 'sessionKey' in this.opts ? this.customer?.name : this.opts.name;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.state = 'connecting';
    // A new control connection may lead elsewhere (the site moved): so do the next session legs.
    this.relays.retireAll();
    const moved = this.movedTo;
    this.movedTo = undefined;
    try {
      const { ticket, relay, node } = await this.where(moved);
      const down = this.down;
      const socket = await openTunnel(
        relay,
        GATEWAY_PATHS.jumpClient,
        ticket,
        {
          'X-Gatehouse-Targets': this.opts.allow.join(','),
          // The site records how long this client was away, and why (the upgrade report sums it).
          ...(down
            ? { 'X-Gatehouse-Disconnected': `${Date.now() - down.since}; ${down.reason}` }
            : {}),
          // It can replace itself with the site's build: the site puts it in an upgrade wave.
          ...(this.selfUpgrade ? { 'X-Gatehouse-Upgradable': 'installation' } : {}),
        },
        // Where a move named may be unreachable from here: the site is asked soon instead.
        moved ? MOVED_TRY_MS : undefined,
      );
      if (down) {
        this.reconnections.count++;
        this.reconnections.downMs += Date.now() - down.since;
      }
      this.down = undefined;
      if (this.stopped) return void socket.destroy();
      socket.setKeepAlive(true, 10_000);
      this.reconnect.connected();
      this.state = 'connected';
      this.lastError = undefined;
      this.connectedTo = node;
      this.log(`connected to ${this.connectedTo} (${relay.host}:${relay.port})`);
      this.selfUpgrade?.connected();
      this.relayNow = relay;
      const channel = new LineChannel<ToJumpClient>(
        socket,
        (v) => v as ToJumpClient,
        (m) => this.onMessage(m, relay),
        (reason) => {
          if (this.channel !== channel) return;
          this.channel = undefined;
          this.relayNow = undefined;
          clearTimeout(this.watchdog);
          this.connectedTo = undefined;
          this.log(`disconnected: ${reason}`);
          this.down = { since: Date.now(), reason: reason.replace(/[^\x20-\x7e]/g, ' ') };
          // Asked to move: through the site afresh, not a kept-alive connection to this appliance.
          if (reason === 'moved') this.api.reconnect();
          this.scheduleReconnect(
            reason === 'moved' ? this.reconnect.moved() : this.reconnect.next(),
          );
        },
      );
      this.channel = channel;
      this.feedWatchdog();
    } catch (e) {
      this.lastError = (e as Error).message;
      this.log(`cannot connect: ${this.lastError}`);
      const after = this.reconnect.afterFailure(e, {
        customer: 'sessionKey' in this.opts,
        moved: !!moved,
      });
      if (after.stop) {
        void this.stop();
        this.opts.onRefused?.(e as Error);
        return;
      }
      if (after.retryMoved) this.movedTo = moved;
      this.scheduleReconnect(after.wait);
    }
  }

  /**
   * Where to connect now, with which ticket: straight to the appliance a move named (with the
   * ticket it holds, while it lasts), else where the site's registration leads.
   */
  private async where(moved: Relay | undefined) {
    if (moved && this.ticket && this.ticket.exp - Date.now() > 60_000) {
      return {
        ticket: this.ticket.value,
        relay: relayEndpoint(this.site, moved),
        node: moved.node,
      };
    }
    const reg = await this.register();
    this.ticket = { value: reg.ticket, exp: Date.parse(reg.expiresAt) };
    const site = siteEndpoint(this.site, reg.site);
    if (
      site.alsoTrust!.length !== (this.site.alsoTrust ?? []).length ||
      site.siteCa !== this.site.siteCa
    ) {
      void this.api.close();
      this.api = new SiteApi(site);
      this.site = site;
    }
    const relay = relayEndpoint(this.site, reg.relay);
    return { ticket: reg.ticket, relay, node: reg.relay?.node ?? reg.site.appliance };
  }

  /** Register (a Jump Client), or join and later rejoin (a customer client). */
  private async register() {
    const o = this.opts;
    if (!('sessionKey' in o))
      return registerInstallation(this.api, o, this.identity!, this.opts.region, (m) =>
        this.log(m),
      );
    const reg = await this.api.joinAsCustomer(
      this.customerTicket
        ? { version: PRODUCT_VERSION, region: o.region }
        : { key: o.sessionKey, nonce: this.joinNonce, version: PRODUCT_VERSION, region: o.region },
      this.customerTicket,
    );
    this.customerTicket = reg.ticket;
    if (!this.customer)
      this.log(`joined the site as ${reg.name}, ${reg.representative}'s customer`);
    this.customer = { name: reg.name, representative: reg.representative };
    return reg;
  }

  private scheduleReconnect(wait: number): void {
    if (this.stopped) return;
    this.state = 'waiting';
    this.retry = setTimeout(() => void this.connect(), wait);
  }

  private feedWatchdog(): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(
      () => this.channel?.close('the site stopped answering'),
      SILENT_LIMIT_MS,
    );
    this.watchdog.unref();
  }

  private onMessage(m: ToJumpClient, relay: Endpoint): void {
    this.feedWatchdog();
    if (m.type === 'ping') return this.send({ type: 'pong' });
    if (m.type === 'move') {
      this.movedTo = moveTarget(m, (line) => this.log(line));
      return this.channel?.close('moved');
    }
    if (m.type === 'open') void this.open(m, relay);
    if (m.type === 'upgrade') void this.upgrade(m.version);
  }

  /** Its turn in the site's upgrade wave: replace itself with the site's build (S13). */
  private async upgrade(version: string): Promise<void> {
    const o = this.opts;
    if (!this.selfUpgrade || 'sessionKey' in o || !o.installation) return;
    const done = await this.selfUpgrade.run(version, this.api, this.ticket?.value ?? '', (reason) =>
      this.send({ type: 'upgrade-failed', reason }),
    );
    if (!done) return;
    await this.stop();
    o.installation.onUpgraded(version);
  }

  private send(m: FromJumpClient): void {
    this.channel?.send(m);
  }

  private async open(m: Extract<ToJumpClient, { type: 'open' }>, relay: Endpoint): Promise<void> {
    if (!this.opts.allow.includes(m.target))
      return this.send({
        type: 'open-failed',
        session: m.session,
        reason: `${m.target} is not among the targets this Jump Client allows`,
      });
    const dialled = await connectTarget(m.target);
    if ('reason' in dialled)
      return this.send({ type: 'open-failed', session: m.session, reason: dialled.reason });
    const target = dialled.socket;
    let leg: Duplex;
    try {
      leg = await this.relays.openLeg(relay, GATEWAY_PATHS.jumpData, m.ticket, 10_000, {
        received: 0,
        pausedMs: 0,
      });
      if (resumeAnswerOf(leg))
        leg = new ResumableLeg(leg as MuxStream, m.session, (t, r, ms) => this.reopen(t, r, ms), {
          windowMs: this.opts.resumeWindowMs,
          // The target may answer after the console's end: its connection says when it ends.
          allowHalfOpen: true,
          log: (line) => this.log(line),
        });
    } catch (e) {
      target.destroy();
      this.log(`session ${m.session}: ${(e as Error).message}`);
      // Said at once, where the control connection still stands: the console need not wait.
      return this.send({
        type: 'open-failed',
        session: m.session,
        reason: `its connection for the session's bytes failed: ${(e as Error).message}`,
      });
    }
    this.sessions.add(target).add(leg);
    const done = () => {
      this.sessions.delete(target);
      this.sessions.delete(leg);
    };
    target.on('error', () => leg.destroy());
    leg.on('error', (e) => {
      // A resumable session that could not resume says why, on both clients.
      this.log(`session ${m.session} ended: ${e.message}`);
      target.destroy();
    });
    target.on('close', () => {
      leg.end();
      done();
    });
    leg.on('close', () => {
      target.end();
      done();
    });
    target.pipe(leg);
    pipeByTick(leg, target);
  }

  /** A resumable leg goes back to the appliance this client is connected to now, once it is. */
  private async reopen(
    token: string,
    resume: { received: number; pausedMs: number },
    timeoutMs: number,
  ): Promise<Duplex> {
    if (this.state === 'waiting') {
      clearTimeout(this.retry);
      this.scheduleReconnect(this.reconnect.forSession());
    }
    await until(() => this.relayNow !== undefined || this.stopped, timeoutMs, 'the site', 50);
    if (!this.relayNow) throw sessionsErrors.SESSION_ENDED('The Jump Client stopped.');
    return this.relays.openLeg(this.relayNow, GATEWAY_PATHS.jumpData, token, timeoutMs, resume);
  }

  /** Disconnect and stop reconnecting; sessions in progress are cut. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.state = 'stopped';
    clearTimeout(this.retry);
    clearTimeout(this.watchdog);
    this.channel?.close('stopped');
    for (const s of this.sessions) s.destroy();
    this.relays.close();
    await this.api.close();
  }
}
