import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { EventLog, EventRecord } from '../site/events.js';
import { formatEvent, frame } from './message.js';
import type { SyslogConfig } from './settings.js';
import type { SyslogSpool } from './spool.js';

export interface ForwarderDeps {
  events: Pick<EventLog, 'subscribe'>;
  /** Read at every event and retry: a sync or an administrator may change it any time. */
  config: () => SyslogConfig | undefined;
  spool: SyslogSpool;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

const RETRY_MIN_MS = 500;
// A reconnect attempt is cheap; a collector back after maintenance gets its backlog soon.
const RETRY_MAX_MS = 5_000;
const BATCH = 200;

export interface ForwarderStatus {
  connected: boolean;
  queued: number;
  sent: number;
  dropped: number;
  lastError: string | null;
}

/**
 * Forwards every event this appliance records to the syslog collector, as RFC 5424 over TLS
 * (RFC 5425). Each event goes to the spool on disk first and leaves it once written to the
 * collector's connection, oldest first: a collector that is down makes messages wait (up to the
 * spool's bound), never the appliance. RFC 5425 has no acknowledgements, so a message written
 * in the instant the collector dies can still be lost in its socket; one written after the
 * collector closed the connection is not, since the close is seen first.
 */
export class SyslogForwarder {
  private socket: TLSSocket | undefined;
  private socketConfig = '';
  private ready = false;
  private flushing = false;
  private retryMs = RETRY_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private sent = 0;
  private lastError: string | null = null;

  constructor(private readonly deps: ForwarderDeps) {}

  start(): void {
    this.unsubscribe = this.deps.events.subscribe((e) => this.enqueue(e));
    this.kick();
  }

  stop(): void {
    this.unsubscribe?.();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.socket?.destroy();
    this.deps.spool.close();
  }

  status(): ForwarderStatus {
    return {
      connected: this.ready,
      queued: this.deps.spool.length,
      sent: this.sent,
      dropped: this.deps.spool.dropped,
      lastError: this.lastError,
    };
  }

  private enqueue(event: EventRecord): void {
    if (!this.deps.config()?.enabled) return;
    this.deps.spool.push(frame(formatEvent(event, process.pid)));
    this.kick();
  }

  /** Connect (again) or send what waits, whichever is due. */
  private kick(): void {
    const config = this.deps.config();
    const key = config?.enabled ? JSON.stringify(config) : '';
    if (this.socket && key !== this.socketConfig) this.socket.destroy();
    if (!key || !config) return;
    if (!this.socket) this.open(config, key);
    else if (this.ready) void this.flush();
  }

  private open(config: SyslogConfig, key: string): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const socket = connect({
      host: config.host,
      port: config.port,
      ...(isIP(config.host) ? {} : { servername: config.host }),
      // Pinned: the fingerprint is checked below, before anything is written.
      ...(config.caPem ? { ca: config.caPem } : { rejectUnauthorized: false }),
      minVersion: 'TLSv1.2',
    });
    this.socket = socket;
    this.socketConfig = key;
    socket.setKeepAlive(true, 10_000);
    socket.on('secureConnect', () => {
      const presented = socket.getPeerCertificate().fingerprint256;
      if (config.fingerprint && presented !== config.fingerprint) {
        socket.destroy(
          new Error(
            `the collector presented certificate ${presented}, not the pinned ${config.fingerprint}`,
          ),
        );
        return;
      }
      this.ready = true;
      this.retryMs = RETRY_MIN_MS;
      this.lastError = null;
      this.deps.log('syslog collector connected', { host: config.host, port: config.port });
      void this.flush();
    });
    // The collector closing its side means it reads no more: stop writing at once.
    socket.on('end', () => socket.destroy());
    socket.on('data', () => undefined);
    socket.on('error', (err) => {
      if (this.lastError !== err.message)
        this.deps.log('syslog collector unreachable; messages wait on disk', {
          host: config.host,
          port: config.port,
          err: err.message,
        });
      this.lastError = err.message;
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.ready = false;
      this.retryLater();
    });
  }

  private retryLater(): void {
    if (this.timer || !this.unsubscribe) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  /** Write the spool to the connection, oldest first, each message once. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (;;) {
        const batch = this.deps.spool.peek(BATCH);
        if (!batch.length) return;
        for (const m of batch) {
          const socket = this.socket;
          if (!socket || !this.ready || socket.destroyed) return;
          await new Promise<void>((resolve, reject) =>
            socket.write(m.data, (err) => (err ? reject(err) : resolve())),
          );
          this.deps.spool.delivered(m.seq);
          this.sent++;
        }
      }
    } catch {
      // The connection failed mid-write: 'close' follows and the rest waits for a retry.
    } finally {
      this.flushing = false;
    }
  }
}
