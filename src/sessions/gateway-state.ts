import type { WaveSettings } from './jump-client-upgrades.js';
import type { Duplex } from 'node:stream';
import type { EventLog } from '../site/events.js';
import type { LineChannel } from './protocol.js';
import type { SessionRecords } from './session-records.js';
import type { TicketClaims } from './tickets.js';

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
  /** How connected Jump Clients upgrade to this version, wave by wave (S13). */
  upgradeWaves(): WaveSettings;
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
  /** A Jump Client run from an installation that replaces itself with the site's build. */
  upgradable?: boolean;
  sessions: LiveSession[];
}

export interface Presence {
  client: ConnectedClient;
  /** The ticket it connected with, checked again when users or installations change. */
  claims: TicketClaims;
  /** The local address the client reached (a shared address moves to the other appliance). */
  via: string;
  channel: LineChannel<unknown>;
  lastSeen: number;
}

export interface PendingSession {
  claims: Extract<TicketClaims, { kind: 'session' }>;
  consoleLeg: Duplex;
  timer: NodeJS.Timeout;
  /** The Jump Client's connection the open was sent on. */
  sentOn: Presence;
  /** The console's leg asked to be resumable. */
  resumable: boolean;
}

/**
 * What the parts of the gateway (presence, pairing, sessions, drain) share: who is connected,
 * which sessions wait for their Jump Client and which run, and whether this node takes new ones.
 */
export class GatewayState {
  readonly jumpClients = new Map<string, Presence>();
  readonly consoles = new Map<string, Presence>();
  readonly pending = new Map<string, PendingSession>();
  readonly live = new Map<string, LiveSession>();
  /** Both connections of each live session, closed when the appliance stops. */
  readonly legs = new Map<string, [Duplex, Duplex]>();
  draining = false;
  closing = false;

  constructor(readonly host: GatewayHost) {}

  /** Every client connected here, Jump Clients first. */
  presences(): Presence[] {
    return [...this.jumpClients.values(), ...this.consoles.values()];
  }

  /** Whether this node takes new clients and sessions (not draining, not told to stop). */
  accepting(): boolean {
    return !this.draining && this.host.acceptsNewClients();
  }

  sessionsOf(c: ConnectedClient): LiveSession[] {
    return [...this.live.values()].filter((s) =>
      c.kind === 'representative-console' ? s.representative === c.name : s.jumpClient === c.name,
    );
  }
}
