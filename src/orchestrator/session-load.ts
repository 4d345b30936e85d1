import { readFileSync, writeFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { RepresentativeConsole } from '../clients/console.js';
import { JumpClient } from '../clients/jump-client.js';
import type { Endpoint } from '../clients/tunnel.js';

export interface SessionStats {
  newStarted: number;
  newFailed: number;
  longOpened: number;
  /** Long sessions that broke while the upgrade ran. */
  dropped: number;
  /**
   * The longest a long session waited for its echo (or its end): the pause a resumable session
   * saw while the appliance under it restarted or moved. Absent in a file of an older run.
   */
  longestPauseMs?: number;
  /**
   * The pauses of every long session added up (each wait for an echo beyond the load's 500 ms
   * rhythm, once it passes PAUSE_FROM_MS): what the sessions went through in total.
   */
  totalPauseMs?: number;
  failures: SessionFailure[];
}

/** A session that failed, with what it went through: where it was relayed, what its clients saw. */
export interface SessionFailure {
  t: number;
  what: string;
  error: string;
  /** When it started, its id and the node that relayed it (a new session's). */
  startedAt?: number;
  session?: string;
  node?: string;
  /** How long the site took to open it (both legs paired), before its echo was awaited. */
  openMs?: number;
  /** The load's console and Jump Client lines from just before it started to its failure. */
  trail?: string[];
  /** The orchestrator's steps running meanwhile (the report adds them). */
  steps?: string[];
}

/** Lines kept for the trail of a failure: the clients' last moves, resumptions, reconnections. */
const TRAIL_KEEP = 300;
/** A failure's trail starts this long before its session did. */
const TRAIL_BEFORE_MS = 3_000;

const LONG_SESSION_MS = 2_000;
/** A long session writes this often; its echo comes back at once. */
const LONG_TICK_MS = 500;
/** A wait for an echo longer than this is a pause (not the rhythm with some load on it). */
const PAUSE_FROM_MS = 1_000;
/** stop() waits this long at most for new sessions under way. */
const STOP_WAIT_MS = 6_000;
/** Sessions start once the site lists the load's Jump Client, or after this long anyway. */
const LISTED_DEADLINE_MS = 15_000;

const EMPTY: SessionStats = {
  newStarted: 0,
  newFailed: 0,
  longOpened: 0,
  dropped: 0,
  longestPauseMs: 0,
  totalPauseMs: 0,
  failures: [],
};

/**
 * Live sessions while the upgrade runs, through the site as operators use it: a Jump Client
 * and a console of the orchestrator, a new short session every second (new sessions that
 * fail) and two longer sessions of a few seconds each that echo twice a second (sessions
 * dropped: closed by the site before their end). Counts add up over
 * an interrupted and resumed run (kept in a file).
 */
export class SessionLoad {
  /** The name its Jump Client enrols under (a new installation each run). */
  static readonly jumpClientName = 'orchestrator-load';
  stats: SessionStats;
  private jump: JumpClient | undefined;
  private rep: Promise<RepresentativeConsole> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private long: (Duplex | undefined)[] = [undefined, undefined];
  private readonly opening = new Set<number>();
  /** Sessions opening: stop() lets them finish rather than cutting them and counting it. */
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  private listed = false;
  private startedAt = 0;
  private readonly lines: { t: number; line: string }[] = [];

  constructor(
    private readonly site: Endpoint,
    private readonly creds: { username: string; password: string; jumpToken: string },
    private readonly echo: string,
    private readonly file: string,
  ) {
    try {
      this.stats = { ...EMPTY, ...(JSON.parse(readFileSync(file, 'utf8')) as SessionStats) };
    } catch {
      this.stats = { ...EMPTY, failures: [] };
    }
  }

  private fail(what: string, e: unknown, session?: Partial<SessionFailure>): void {
    const t = Date.now();
    const from = (session?.startedAt ?? t) - TRAIL_BEFORE_MS;
    const trail = session?.startedAt
      ? this.lines.filter((l) => l.t >= from).map((l) => `${l.t - session.startedAt!} ms ${l.line}`)
      : undefined;
    this.stats.failures.push({
      t,
      what,
      error: (e as Error).message,
      ...session,
      ...(trail ? { trail } : {}),
    });
    if (this.stats.failures.length > 200) this.stats.failures.shift();
  }

  /** A line of the load's console or Jump Client, kept a while for the trail of a failure. */
  private note(who: string, line: string): void {
    this.lines.push({ t: Date.now(), line: `${who}: ${line}` });
    if (this.lines.length > TRAIL_KEEP) this.lines.shift();
  }

  async start(): Promise<void> {
    this.jump = new JumpClient({
      site: this.site,
      name: SessionLoad.jumpClientName,
      group: 'orchestrator',
      token: this.creds.jumpToken,
      allow: [this.echo],
      log: (line) => this.note('jump client', line),
    });
    this.jump.start();
    this.startedAt = Date.now();
    this.timers.push(setInterval(() => this.track(this.newSession()), 1_000));
    this.timers.push(setInterval(() => this.track(this.tickLong()), LONG_TICK_MS));
    this.timers.push(setInterval(() => this.save(), 1_000));
  }

  /** Work that `stop` waits for: a session opening or ending when the load stops. */
  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /**
   * The load's one console. Both timers ask for it in the same tick, so the sign-in is shared:
   * a second console would be left behind with its presence connection, which reconnects and
   * keeps the orchestrator's process from exiting.
   */
  private console(): Promise<RepresentativeConsole> {
    if (this.stopped) return Promise.reject(new Error('the session load stopped'));
    if (this.rep) return this.rep;
    const signingIn = RepresentativeConsole.signIn(
      this.site,
      this.creds.username,
      this.creds.password,
    ).then((rep) => {
      if (this.stopped) {
        void rep.close().catch(() => undefined);
        throw new Error('the session load stopped');
      }
      // Present on the site as an operator's console is: it follows the site when asked to
      // move (a failover, Send clients to the site after a DNS or NAT swing, an install).
      rep.keepPresence();
      rep.log = (line) => this.note('console', line);
      return rep;
    });
    // A failed sign-in is tried again on the next tick.
    signingIn.catch(() => {
      if (this.rep === signingIn) this.rep = undefined;
    });
    this.rep = signingIn;
    return signingIn;
  }

  /**
   * Whether to start sessions: a connected Jump Client is not yet reachable through the site
   * until the site lists it (in a cluster the primary node learns it from the node's next
   * status report), and a session opened before that fails for the load, not for the upgrade.
   * A site that does not list it within the deadline gets sessions anyway, and they count.
   */
  private async ready(): Promise<boolean> {
    if (this.listed || Date.now() - this.startedAt > LISTED_DEADLINE_MS) return true;
    if (this.jump?.state !== 'connected') return false;
    try {
      const listed = await (await this.console()).jumpClients();
      this.listed = listed.some((j) => j.name === 'orchestrator-load');
    } catch {
      // Not reachable yet: asked again on the next tick.
    }
    return this.listed;
  }

  private async open(): Promise<{ socket: Duplex; session: string; node?: string }> {
    const signingIn = this.console();
    try {
      return await (await signingIn).openSession('orchestrator-load', this.echo);
    } catch (e) {
      // A console ticket outlives a failover (same key); a sign-in is redone only if refused,
      // and only once however many sessions it refused.
      if ((e as { code?: string }).code === 'CLIENT_TICKET_INVALID' && this.rep === signingIn) {
        this.rep = undefined;
        void signingIn.then((rep) => rep.close()).catch(() => undefined);
      }
      throw e;
    }
  }

  private async newSession(): Promise<void> {
    if (this.stopped || !(await this.ready()) || this.stopped) return;
    this.stats.newStarted++;
    const seen: Partial<SessionFailure> = { startedAt: Date.now() };
    try {
      const { socket, session, node } = await this.open();
      Object.assign(seen, { session, node, openMs: Date.now() - seen.startedAt! });
      await echoOnce(socket, Buffer.from('new session\n'));
      socket.end();
    } catch (e) {
      this.stats.newFailed++;
      this.fail('new session', e, seen);
    }
  }

  private async tickLong(): Promise<void> {
    if (this.stopped || !(await this.ready())) return;
    for (let i = 0; i < this.long.length && !this.stopped; i++) {
      const s = this.long[i];
      if (this.opening.has(i)) continue;
      if (!s) {
        this.opening.add(i);
        try {
          const opened = (await this.open()).socket;
          this.stats.longOpened++;
          // Opened after the stop, which ends only the stored ones: end it now, as they end.
          if (this.stopped) {
            await endSession(opened);
            return;
          }
          opened.on('error', () => undefined);
          this.measurePauses(opened);
          opened.once('close', () => {
            if (this.stopped) return;
            this.stats.dropped++;
            this.fail('long session', new Error('closed by the site'));
            this.long[i] = undefined;
          });
          (opened as Duplex & { openedAt?: number }).openedAt = Date.now();
          this.long[i] = opened;
        } catch (e) {
          this.fail('long session open', e);
        } finally {
          this.opening.delete(i);
        }
        continue;
      }
      // A long session lasts a few seconds, as an operator's would, so nodes can drain.
      if ((s as Duplex & { openedAt?: number }).openedAt! + LONG_SESSION_MS < Date.now()) {
        this.long[i] = undefined;
        s.removeAllListeners('close');
        s.end();
        continue;
      }
      if (s.writable) s.write('.');
    }
  }

  /**
   * A long session writes every 500 ms and its echo comes back at once: a longer wait for the
   * next echo, or for the end after its own, is a pause (a resumable session resuming).
   */
  private measurePauses(s: Duplex): void {
    let heard = Date.now();
    const pause = () => {
      const now = Date.now();
      this.stats.longestPauseMs = Math.max(this.stats.longestPauseMs ?? 0, now - heard);
      if (now - heard > PAUSE_FROM_MS)
        this.stats.totalPauseMs = (this.stats.totalPauseMs ?? 0) + now - heard - LONG_TICK_MS;
      heard = now;
    };
    s.on('data', pause);
    s.once('end', pause);
  }

  private save(): void {
    writeFileSync(this.file, JSON.stringify(this.stats));
  }

  async stop(): Promise<SessionStats> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    // A new session started just before the stop ends on its own (its echo, or its 5 s limit):
    // cutting it would count a failure the upgrade did not cause.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.inFlight),
      new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS))),
    ]);
    clearTimeout(timer);
    // The long sessions end as an operator ends one (the site records them ended, not failed);
    // cut with the console, each was a session ended abnormally in the site's records.
    await Promise.all(this.long.map((s) => s && endSession(s)));
    await this.rep?.then((rep) => rep.close()).catch(() => undefined);
    await this.jump?.stop();
    this.save();
    return this.stats;
  }
}

/** End a session from this side and wait until it closed (at most STOP_WAIT_MS, then cut it). */
function endSession(s: Duplex): Promise<void> {
  s.removeAllListeners('close');
  if (s.closed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => s.destroy(), STOP_WAIT_MS);
    s.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.end();
  });
}

function echoOnce(socket: Duplex, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let n = 0;
    socket.on('data', (d: Buffer) => {
      n += d.length;
      if (n >= data.length) resolve();
    });
    socket.once('error', reject);
    socket.once('close', () =>
      n >= data.length ? resolve() : reject(new Error('closed before the echo')),
    );
    const timer = setTimeout(() => reject(new Error('no echo within 5 s')), 5_000);
    socket.once('data', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
    socket.write(data);
  });
}
