import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { RepresentativeConsole } from '../clients/console.js';
import type { Endpoint } from '../clients/tunnel.js';
import { endpointKey } from './site-endpoint.js';

export interface SessionStats {
  started: number;
  completed: number;
  failed: number;
  active: number;
  long: { target: number; active: number; dropped: number };
  recentErrors: { at: string; message: string }[];
}

export interface SyntheticOptions {
  site: () => Promise<Endpoint>;
  username: string;
  password: string;
  /** Jump Clients to open sessions through, with their regions. */
  jumpClients: { name: string; region?: string }[];
  target: string;
  sessionRate: number;
  longSessions: number;
}

/** Send `data` and resolve once the echo target sent it all back, unchanged. */
function echo(socket: Duplex, data: Buffer, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let n = 0;
    const done = (e?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', done);
      socket.off('close', onClose);
      if (e) reject(e);
      else if (Buffer.concat(got).equals(data)) resolve();
      else reject(new Error('the echo came back different'));
    };
    const onData = (c: Buffer) => {
      got.push(c);
      n += c.length;
      if (n >= data.length) done();
    };
    const onClose = () => done(new Error('the session closed'));
    const timer = setTimeout(() => done(new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('error', done);
    socket.once('close', onClose);
    socket.write(data);
  });
}

/**
 * Consoles that keep the site busy: a new short echo session at the set rate, and long-lived
 * sessions that send a little every second. Every session is counted started, then completed
 * or failed; a long session that breaks counts as failed and dropped, and is opened again.
 */
export class SyntheticSessions {
  readonly stats: SessionStats = {
    started: 0,
    completed: 0,
    failed: 0,
    active: 0,
    long: { target: 0, active: 0, dropped: 0 },
    recentErrors: [],
  };
  private consoles = new Map<string, Promise<{ rep: RepresentativeConsole; key: string }>>();
  private timers = new Set<NodeJS.Timeout>();
  private open = new Set<Duplex>();
  private stopped = false;
  private next = 0;

  constructor(private readonly o: SyntheticOptions) {
    this.stats.long.target = o.longSessions;
  }

  start(): void {
    if (this.o.sessionRate > 0)
      this.timers.add(setInterval(() => void this.short(), 1000 / this.o.sessionRate));
    for (let i = 0; i < this.o.longSessions; i++) void this.long(i);
  }

  /** A console per region, signed in again whenever a session through it failed. */
  private console(region: string | undefined) {
    const k = region ?? '';
    let c = this.consoles.get(k);
    if (!c) {
      c = (async () => {
        const site = await this.o.site();
        const rep = await RepresentativeConsole.signIn(
          site,
          this.o.username,
          this.o.password,
          region,
        );
        return { rep, key: endpointKey(site) };
      })();
      this.consoles.set(k, c);
      c.catch(() => this.consoles.delete(k));
    }
    return c;
  }

  private dropConsole(region: string | undefined): void {
    const c = this.consoles.get(region ?? '');
    this.consoles.delete(region ?? '');
    void c?.then(({ rep }) => rep.close()).catch(() => undefined);
  }

  private fail(region: string | undefined, e: unknown): void {
    this.stats.failed++;
    this.stats.recentErrors = [
      ...this.stats.recentErrors.slice(-9),
      { at: new Date().toISOString(), message: (e as Error).message },
    ];
    this.dropConsole(region);
  }

  private async session(jc: { name: string; region?: string }): Promise<Duplex> {
    const { rep } = await this.console(jc.region);
    const { socket } = await rep.openSession(jc.name, this.o.target);
    // Between echoes nothing listens: a session cut then fails at its next echo.
    socket.on('error', () => undefined);
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    return socket;
  }

  private pick() {
    return this.o.jumpClients[this.next++ % this.o.jumpClients.length]!;
  }

  private async short(): Promise<void> {
    if (this.stopped) return;
    const jc = this.pick();
    this.stats.started++;
    this.stats.active++;
    let socket: Duplex | undefined;
    try {
      socket = await this.session(jc);
      await echo(socket, randomBytes(512), 10_000);
      socket.end();
      this.stats.completed++;
    } catch (e) {
      socket?.destroy();
      if (!this.stopped) this.fail(jc.region, e);
    } finally {
      this.stats.active--;
    }
  }

  private async long(i: number): Promise<void> {
    const jc = this.o.jumpClients[i % this.o.jumpClients.length]!;
    while (!this.stopped) {
      this.stats.started++;
      this.stats.long.active++;
      let socket: Duplex | undefined;
      try {
        socket = await this.session(jc);
        while (!this.stopped) {
          await echo(socket, randomBytes(64), 5_000);
          await this.pause(1_000);
        }
        socket.end();
        this.stats.completed++;
      } catch (e) {
        socket?.destroy();
        if (!this.stopped) {
          this.stats.long.dropped++;
          this.fail(jc.region, e);
          await this.pause(1_000);
        }
      } finally {
        this.stats.long.active--;
      }
    }
  }

  /** The pace of a long session: a little data every second (not a wait for a condition). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.open) s.destroy();
    const all = [...this.consoles.values()];
    this.consoles.clear();
    await Promise.all(all.map((c) => c.then(({ rep }) => rep.close()).catch(() => undefined)));
  }
}
