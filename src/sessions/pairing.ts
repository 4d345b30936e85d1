import type { Duplex } from 'node:stream';
import type { ErrorFactory } from '../shared/errors.js';
import { acceptUpgrade, GATEWAY_PATHS, refuseUpgrade, type ToJumpClient } from './protocol.js';
import { MuxStream } from './mux.js';
import type { SessionIdentity } from './resume.js';
import type { GatewayState, Presence } from './gateway-state.js';
import { issueTicket, type TicketClaims } from './tickets.js';
import { sessionsErrors } from './error-codes.js';

const OPEN_TIMEOUT_MS = 10_000;
/** How long an open may still be answered once the connection it was sent on closed. */
const DISCONNECTED_GRACE_MS = 6_000;

type SessionClaims = Extract<TicketClaims, { kind: 'session' }>;

/**
 * Pairing the two legs of a session: a console's leg arrives with a session ticket, the Jump
 * Client is asked (on its control connection) to dial the target and connect back, and its leg
 * is paired with the waiting one, or the console is told why not.
 */
export class SessionPairing {
  /** Session ids already used: a session ticket opens one session, once. */
  private readonly used = new Map<string, number>();

  constructor(
    private readonly state: GatewayState,
    private readonly paired: {
      /** Both legs of a resumable session (the session outlives its legs). */
      resumable(id: SessionIdentity, consoleLeg: MuxStream, jumpLeg: MuxStream): void;
      /** Both legs of a session that ends with its legs. */
      plain(id: SessionIdentity, consoleLeg: Duplex, jumpLeg: Duplex): void;
    },
  ) {}

  /** A console asks for a session: ask the Jump Client to dial the target and connect back. */
  consoleLegArrived(claims: SessionClaims, socket: Duplex, resumable: boolean) {
    const { pending, host } = this.state;
    if (claims.sub.startsWith('jump-client:'))
      throw sessionsErrors.CLIENT_TICKET_INVALID('This ticket is for the Jump Client leg.');
    if (this.used.has(claims.session) || pending.has(claims.session))
      throw sessionsErrors.SESSION_TICKET_USED(
        'This session ticket was already used. Ask the site for a new session.',
      );
    const jump = this.state.jumpClients.get(claims.jumpClient);
    if (!jump)
      throw sessionsErrors.JUMP_CLIENT_NOT_CONNECTED(
        `Jump Client "${claims.jumpClient}" is not connected to this appliance. List the connected ones with \`gatehouse console jump-clients\` and start the session again.`,
      );
    // The site checked this when it issued the ticket; the appliance relaying checks it again.
    if (jump.client.representative && jump.client.representative !== claims.sub)
      throw sessionsErrors.CUSTOMER_NOT_YOURS(
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
    pending.set(claims.session, { claims, consoleLeg: socket, timer, sentOn: jump, resumable });
    socket.once('close', () => {
      const p = pending.get(claims.session);
      if (p?.consoleLeg === socket) {
        clearTimeout(p.timer);
        pending.delete(claims.session);
      }
    });
    const jumpTicket = issueTicket(host.interApplianceKey(), {
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

  openFailed(
    session: string,
    reason: string,
    code: ErrorFactory = sessionsErrors.SESSION_OPEN_FAILED,
  ): void {
    const p = this.state.pending.get(session);
    if (!p) return;
    clearTimeout(p.timer);
    this.state.pending.delete(session);
    this.state.host.events.record(
      { area: 'login', name: p.claims.sub },
      'session.refused',
      session,
      { jumpClient: p.claims.jumpClient, target: p.claims.target, reason },
      'failed',
    );
    refuseUpgrade(
      p.consoleLeg,
      code(`Jump Client "${p.claims.jumpClient}" could not open ${p.claims.target}: ${reason}.`),
      GATEWAY_PATHS.session,
    );
  }

  /**
   * An open sent on a connection that closed may have been lost with it (or the client, moving
   * to another node, may still be dialling and open the leg here): it gets a short grace, then
   * fails with a code the console retries on, through the node the client is on now.
   */
  jumpClientLost(presence: Presence, reason: string): void {
    for (const [session, p] of this.state.pending)
      if (p.sentOn === presence) {
        clearTimeout(p.timer);
        p.timer = setTimeout(
          () =>
            this.openFailed(
              session,
              `it disconnected from this appliance (${reason}) and did not open the session`,
              sessionsErrors.JUMP_CLIENT_NOT_CONNECTED,
            ),
          DISCONNECTED_GRACE_MS,
        );
      }
  }

  jumpLegArrived(claims: SessionClaims, socket: Duplex, resumable: boolean) {
    const p = this.state.pending.get(claims.session);
    if (!p || claims.sub !== `jump-client:${p.claims.jumpClient}`)
      throw sessionsErrors.SESSION_NOT_PENDING(
        'No session is waiting for this Jump Client connection (it timed out or the console left).',
      );
    clearTimeout(p.timer);
    this.state.pending.delete(claims.session);
    const id: SessionIdentity = {
      session: claims.session,
      representative: p.claims.sub,
      jumpClient: p.claims.jumpClient,
      target: p.claims.target,
      uid: p.claims.uid,
      ugen: p.claims.gen,
    };
    // Both ends keep what the other has not acknowledged: the session outlives its legs.
    if (
      resumable &&
      p.resumable &&
      p.consoleLeg instanceof MuxStream &&
      socket instanceof MuxStream
    )
      return this.paired.resumable(id, p.consoleLeg, socket);
    acceptUpgrade(socket);
    acceptUpgrade(p.consoleLeg);
    this.paired.plain(id, p.consoleLeg, socket);
  }

  /** Forget the used session ids whose tickets expired (they could not be used again anyway). */
  sweep(now: number): void {
    for (const [id, exp] of this.used) if (exp < now) this.used.delete(id);
  }

  /** The appliance stops: sessions still waiting for their Jump Client are cut. */
  close(): void {
    for (const p of this.state.pending.values()) {
      clearTimeout(p.timer);
      p.consoleLeg.destroy();
    }
    this.state.pending.clear();
  }
}
