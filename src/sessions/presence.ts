import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { GatehouseError } from '../shared/errors.js';
import { acceptUpgrade, FromJumpClient, LineChannel } from './protocol.js';
import type { ToConsole, ToJumpClient } from './protocol.js';
import type { ConnectedClient, GatewayState, Presence } from './gateway-state.js';
import type { Relay } from './routing.js';
import type { TicketClaims } from './tickets.js';
import { sessionsErrors } from './error-codes.js';

const PING_EVERY_MS = 15_000;
const SILENT_LIMIT_MS = 45_000;
/** How often the gateway looks whether a revocation came (a look is one small query). */
const RECHECK_EVERY_MS = 1_000;

/**
 * The presence of clients on this appliance: their control connections (NDJSON), kept fresh by
 * pings, cut when their ticket is revoked, and asked to move when this node stops serving them.
 */
export class ClientPresence {
  private readonly pinger: NodeJS.Timeout;
  private readonly rechecker: NodeJS.Timeout;
  private checkedVersion: number;

  constructor(
    private readonly state: GatewayState,
    private readonly on: {
      /** A Jump Client reported that it could not open a session. */
      openFailed(session: string, reason: string): void;
      /** A Jump Client said it could not upgrade to the site's build. */
      upgradeFailed(name: string, reason: string): void;
      /** A Jump Client's control connection closed (the opens sent on it may be lost). */
      jumpClientLost(presence: Presence, reason: string): void;
      /** Every ping round (to sweep what expires). */
      tick(now: number): void;
    },
  ) {
    this.pinger = setInterval(() => this.ping(), PING_EVERY_MS);
    this.pinger.unref();
    this.checkedVersion = state.host.configVersion();
    this.rechecker = setInterval(() => this.recheck(), RECHECK_EVERY_MS);
    this.rechecker.unref();
  }

  jumpClientConnected(
    claims: Extract<TicketClaims, { kind: 'jump-client' }>,
    socket: Duplex,
    info: { address: string; version: string; targets: string[]; upgradable: boolean },
  ): void {
    const { jumpClients, host } = this.state;
    // The same Jump Client reconnecting replaces its old connection; a client of another kind
    // or another representative's customer never takes its place.
    const before = jumpClients.get(claims.sub);
    const installationOf = (c: TicketClaims) =>
      c.kind === 'jump-client' ? c.installation : undefined;
    if (
      before &&
      (before.client.representative !== claims.representative ||
        installationOf(before.claims) !== claims.installation)
    )
      throw sessionsErrors.JUMP_CLIENT_NAME_IN_USE(
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
        if (m.type === 'open-failed') this.on.openFailed(m.session, m.reason);
        if (m.type === 'upgrade-failed') this.on.upgradeFailed(claims.sub, m.reason);
      },
      (reason) => {
        if (jumpClients.get(claims.sub) === presence) jumpClients.delete(claims.sub);
        host.log('jump client disconnected', { name: claims.sub, reason });
        this.on.jumpClientLost(presence, reason);
      },
    );
    jumpClients.set(claims.sub, presence);
    host.log('jump client connected', { name: claims.sub, address: info.address });
  }

  consoleConnected(
    claims: Extract<TicketClaims, { kind: 'console' }>,
    socket: Duplex,
    info: { address: string; version: string },
  ): void {
    const presence: Presence = this.present(
      socket,
      claims,
      { kind: 'representative-console', name: claims.sub, ...info },
      (v) => v,
      () => undefined,
      () => this.state.consoles.delete(presence.client.id),
    );
    this.state.consoles.set(presence.client.id, presence);
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

  /** Connected clients with their live sessions (Status > Information). */
  list(): ConnectedClient[] {
    return this.state
      .presences()
      .map((p) => ({ ...p.client, sessions: this.state.sessionsOf(p.client) }))
      .sort((a, b) => a.connectedAt - b.connectedAt);
  }

  jumpClient(name: string): ConnectedClient | undefined {
    const p = this.state.jumpClients.get(name);
    return p && { ...p.client, sessions: this.state.sessionsOf(p.client) };
  }

  /** Ask a connected Jump Client to upgrade to the site's build; false when it is not here. */
  askToUpgrade(name: string, version: string): boolean {
    const p = this.state.jumpClients.get(name);
    if (!p) return false;
    const message: ToJumpClient = { type: 'upgrade', version };
    p.channel.send(message);
    return true;
  }

  /**
   * Ask every connected client to reconnect: to `to` when given, else through the site. Returns
   * the Jump Clients asked.
   */
  moveAll(reason: string, to?: Relay): string[] {
    for (const p of this.state.presences()) moveClient(p, reason, to);
    return [...this.state.jumpClients.keys()];
  }

  /**
   * Clients that came in through an address this appliance just released follow the address.
   * Returns the Jump Clients asked.
   */
  moveConnectedVia(address: string, reason: string): string[] {
    const plain = (a: string) => a.replace(/^::ffff:/, '');
    const moved: string[] = [];
    for (const p of this.state.presences())
      if (plain(p.via) === plain(address)) {
        moveClient(p, reason);
        if (this.state.jumpClients.get(p.client.name) === p) moved.push(p.client.name);
      }
    return moved;
  }

  private ping(): void {
    const now = Date.now();
    this.on.tick(now);
    for (const p of this.state.presences()) {
      if (now - p.lastSeen > SILENT_LIMIT_MS) p.channel.close('no answer to pings');
      else p.channel.send({ type: 'ping' });
    }
  }

  /**
   * Users or Jump Client installations changed (here, or by a sync or a cluster push): every
   * connected client whose ticket is no longer honoured is cut, with its sessions in progress.
   */
  private recheck(): void {
    const { host, legs } = this.state;
    let version: number;
    try {
      version = host.configVersion();
    } catch {
      return; // the database is closing with the appliance
    }
    if (version === this.checkedVersion) return;
    this.checkedVersion = version;
    for (const p of this.state.presences()) {
      try {
        host.checkClient(p.claims);
      } catch (e) {
        const reason = e instanceof GatehouseError ? e.code : String(e);
        host.log('client revoked: connection cut', { name: p.client.name, reason });
        for (const s of this.state.sessionsOf(p.client))
          for (const leg of legs.get(s.id) ?? []) leg.destroy();
        p.channel.close(`revoked (${reason})`);
      }
    }
  }

  /** Stop the timers (the appliance closes; connections go with the process). */
  stop(): void {
    clearInterval(this.pinger);
    clearInterval(this.rechecker);
  }

  closeAll(reason: string): void {
    for (const p of this.state.presences()) p.channel.close(reason);
  }
}

/**
 * Tell a client to reconnect (through the site, or straight to `to`), and close its connection
 * once it had time to read.
 */
export function moveClient(p: Presence, reason: string, to?: Relay): void {
  const message: ToJumpClient | ToConsole = { type: 'move', reason, ...(to ? { to } : {}) };
  p.channel.send(message);
  setTimeout(() => p.channel.close('moved'), 2_000).unref();
}
