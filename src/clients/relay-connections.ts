import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { GATEWAY_PATHS } from '../sessions/protocol.js';
import { MuxConnection } from '../sessions/mux.js';
import { openTunnel, trustedFingerprints, type Endpoint } from './tunnel.js';

/** A connection without sessions closes after this long (its appliance may have been drained). */
const IDLE_CLOSE_MS = 60_000;

const keyOf = (endpoint: Endpoint) =>
  `${endpoint.host}:${endpoint.port} ${trustedFingerprints(endpoint).join(',')} ${endpoint.siteCa ?? ''}`;

/**
 * A client's relay connections: one multiplexed connection per appliance (opened when the first
 * session leg needs it, forgotten when it closes), each session leg a stream of it. An idle
 * session then costs the appliance a few objects instead of a TLS connection per leg. As the
 * connections per leg did, a connection keeps the process alive only while it carries sessions.
 */
export class RelayConnections {
  private readonly connections = new Map<string, Promise<MuxConnection>>();
  private readonly idleTimers = new WeakMap<MuxConnection, NodeJS.Timeout>();
  private readonly retired = new WeakSet<MuxConnection>();
  /** Every open connection, retired ones included: close() ends them all. */
  private readonly open = new Set<MuxConnection>();
  private closed = false;

  /**
   * Open one session leg (`GATEWAY_PATHS.session` or `.jumpData`) with its session ticket; the
   * ticket also signs in the connection when there is none to this appliance yet. An appliance
   * of the previous release (no multiplexed path) gets a connection for the leg, as before.
   * With `resume` the leg asks to be resumable (or resumes, with a resume token as `ticket`).
   */
  async openLeg(
    endpoint: Endpoint,
    path: string,
    ticket: string,
    timeoutMs = 15_000,
    resume?: { received: number; pausedMs: number },
  ): Promise<Duplex> {
    try {
      return await this.openLegOnce(endpoint, path, ticket, timeoutMs, resume);
    } catch (e) {
      // A kept connection may lead to an appliance the site's address left: it became the
      // backup or released the shared address (a connection outlives the address's release),
      // or it stops taking clients; it answers 503. The stream's open was refused and the
      // connection retired: ask once more over a fresh one, which goes where the address leads.
      if ((e as { status?: number }).status !== 503) throw e;
      return this.openLegOnce(endpoint, path, ticket, timeoutMs, resume);
    }
  }

  private async openLegOnce(
    endpoint: Endpoint,
    path: string,
    ticket: string,
    timeoutMs: number,
    resume: { received: number; pausedMs: number } | undefined,
  ): Promise<Duplex> {
    let mux: MuxConnection;
    const opening = this.connection(endpoint, ticket, Math.min(timeoutMs, 15_000));
    try {
      mux = await opening;
    } catch (e) {
      // A resume token sent this way is refused (CLIENT_TICKET_INVALID): the session ends.
      if ((e as { code?: string }).code !== 'NOT_FOUND') throw e;
      return openTunnel(endpoint, path, ticket, {}, timeoutMs);
    }
    const socket = mux.socket as TLSSocket;
    socket.ref();
    clearTimeout(this.idleTimers.get(mux));
    try {
      const leg = await mux.open(resume ? { path, ticket, resume } : { path, ticket }, timeoutMs);
      // Closed already when a RESET came in the same read as its ACCEPT.
      if (leg.closed) this.settle(mux);
      else leg.once('close', () => this.settle(mux));
      return leg;
    } catch (e) {
      if ((e as { status?: number }).status === 503) {
        // New legs to this endpoint go over a new connection; this one closes once idle.
        if (this.connections.get(keyOf(endpoint)) === opening)
          this.connections.delete(keyOf(endpoint));
        this.retired.add(mux);
      }
      this.settle(mux);
      throw e;
    }
  }

  /**
   * New legs go over new connections from now on; the current ones close once their sessions
   * end. For when the site moved (a failover, a DNS or NAT swing): a kept connection would lead
   * to the appliance the site's name no longer names.
   */
  retireAll(): void {
    const current = [...this.connections.values()];
    this.connections.clear();
    for (const c of current)
      c.then((mux) => {
        this.retired.add(mux);
        this.settle(mux);
      }).catch(() => undefined);
  }

  /** A connection whose last session ended lets the process exit, and closes after a while. */
  private settle(mux: MuxConnection): void {
    if (mux.size > 0 || mux.closed) return;
    if (this.retired.has(mux)) return mux.close('retired');
    (mux.socket as TLSSocket).unref();
    clearTimeout(this.idleTimers.get(mux));
    const timer = setTimeout(() => {
      if (mux.size === 0) mux.close('idle');
    }, IDLE_CLOSE_MS);
    timer.unref();
    this.idleTimers.set(mux, timer);
  }

  /** Close every connection: the sessions on them end. */
  close(): void {
    this.closed = true;
    this.connections.clear();
    // Every opened connection, retired ones still carrying sessions included (they would keep
    // the process alive); one still opening closes as it opens (see connection()).
    for (const mux of this.open) mux.close('client closed');
    this.open.clear();
  }

  private connection(
    endpoint: Endpoint,
    ticket: string,
    timeoutMs: number,
  ): Promise<MuxConnection> {
    const key = keyOf(endpoint);
    const cached = this.connections.get(key);
    if (cached) return cached;
    const forget = () => {
      if (this.connections.get(key) === opening) this.connections.delete(key);
    };
    const opening = openTunnel(endpoint, GATEWAY_PATHS.mux, ticket, {}, timeoutMs).then(
      (socket) => {
        socket.setKeepAlive(true, 10_000);
        const mux = new MuxConnection(socket);
        this.open.add(mux);
        mux.once('close', () => {
          this.open.delete(mux);
          forget();
        });
        if (this.closed) mux.close('client closed');
        return mux;
      },
    );
    opening.catch(forget);
    this.connections.set(key, opening);
    return opening;
  }
}
