import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import { openTunnel } from '../src/clients/tunnel.js';
import { MuxConnection } from '../src/sessions/mux.js';
import { GATEWAY_PATHS } from '../src/sessions/protocol.js';
import { issueTicket } from '../src/sessions/tickets.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import {
  interactive,
  receiveAll,
  startHalfCloseTarget,
  startSource,
  type HalfCloseTarget,
  type Source,
} from './support/resume-load.js';
import { startTargets, type Targets } from './support/targets.js';
import { enrolmentToken } from './support/jump-clients.js';

const KEY = 'resume-test-inter-appliance-key-0123456789';
/** The copy of the issue's kill case; GATEHOUSE_RESUME_COPY_MIB makes it smaller or larger. */
const COPY_BYTES = Number(process.env.GATEHOUSE_RESUME_COPY_MIB ?? 256) * 1024 * 1024;

interface Ended {
  items: { target: string; action: string; outcome: string; details: Record<string, unknown> }[];
}

/** A counter's value in a scrape of /metrics (0 when the series is absent). */
function counter(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

describe('resumable sessions: the relaying appliance SIGKILLed under a copy and an interactive session', () => {
  let site: TestAppliance;
  let targets: Targets;
  let source: Source;
  let answering: HalfCloseTarget;
  let jump: JumpClient;
  let rep: RepresentativeConsole;
  let scrapeToken: string;
  const jumpLog: string[] = [];
  const endpoint = () => ({
    host: site.proc.host,
    port: site.proc.port,
    fingerprint: site.proc.fingerprint,
  });

  beforeAll(async () => {
    [site, targets, source, answering] = await Promise.all([
      startTestAppliance({ name: 'resume-site', interApplianceKey: KEY }),
      startTargets(),
      startSource(COPY_BYTES),
      startHalfCloseTarget(),
    ]);
    const token = await enrolmentToken(site.api);
    jump = new JumpClient({
      site: endpoint(),
      name: 'db-01',
      group: 'servers',
      token,
      allow: [targets.echo, source.address, answering.address],
      log: (line) => jumpLog.push(line),
    });
    jump.start();
    const created = await site.api.call<{ token: string }>(
      'POST',
      '/api/appliance/monitoring/tokens',
      { json: { label: 'resume-test' } },
    );
    scrapeToken = created.body.token;
    rep = await RepresentativeConsole.signIn(endpoint(), 'admin', LOGIN_PASSWORD);
    await until(
      async () => (await rep.jumpClients()).some((j) => j.name === 'db-01'),
      10_000,
      'the Jump Client to register',
    );
  });
  /** Resumed and failed session counts of the running appliance process (counters start at 0). */
  const sessionCounts = async () => {
    const res = await site.anon.call<string>('GET', '/metrics', {
      headers: { authorization: `Bearer ${scrapeToken}`, accept: 'text/plain' },
      auth: 'none',
    });
    expect(res.status).toBe(200);
    return {
      resumed: counter(res.body, 'gatehouse_sessions_resumed_total'),
      failed: counter(res.body, 'gatehouse_sessions_failed_total'),
    };
  };
  afterAll(async () => {
    await rep?.close();
    await jump?.stop();
    await targets?.close();
    await source?.close();
    await answering?.close();
  });

  it('ends cleanly: the console ends its side, the target answers and ends its own; both see the end', async () => {
    const { session, socket } = await rep.openSession('db-01', answering.address);
    let text = '';
    let ended = false;
    let closed = false;
    let failure: Error | undefined;
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.on('end', () => (ended = true));
    socket.on('close', () => (closed = true));
    socket.on('error', (e) => (failure = e));
    socket.end('the question');
    await until(() => ended && closed, 20_000, "the console's leg to end and close");
    expect(failure).toBeUndefined();
    // The answer was sent after the console's end: the half-close went through whole.
    expect(text).toBe('answer to the question');
    expect(answering.ended).toEqual(['the question']);
    await until(() => answering.closed() === 1, 10_000, "the target's connection to close");
    const record = await until(
      async () => {
        const r = await site.api.call<Ended>(
          'GET',
          '/api/login/logs?action=session.ended&pageSize=100',
        );
        return r.body.items.find((e) => e.target === session);
      },
      10_000,
      'the session record',
    );
    expect(record.details.reason).toBe('closed');
    expect(record.outcome).toBe('ok');
    // Status > Information no longer lists it once its record is written.
    await until(
      async () => {
        const info = await site.api.call<{ connectedClients: { sessions: { id: string }[] }[] }>(
          'GET',
          '/api/login/status/information',
        );
        return !info.body.connectedClients.some((c) => c.sessions.some((s) => s.id === session));
      },
      10_000,
      'the session to leave Status > Information',
    );
  });

  it('loses, duplicates and reorders nothing, and records both parts under one session', async () => {
    const copy = await rep.openSession('db-01', source.address);
    const chat = await rep.openSession('db-01', targets.echo);
    const echo = interactive(chat.socket);
    let got = 0;
    const copyAt = Date.now();
    const received = receiveAll(copy.socket, (n) => (got = n));
    await until(() => got > COPY_BYTES / 4 && echo.rounds() > 5, 60_000, 'a quarter of the copy');
    const t0 = Date.now();
    await site.crashAndRestart();
    const restartMs = Date.now() - t0;
    const roundsAtKill = echo.rounds();
    await until(() => echo.rounds() > roundsAtKill + 5, 60_000, 'the echo to go on');
    const pause = echo.longestWaitMs();
    // Status > Information shows the running session's move and its pause so far.
    const info = await site.api.call<{
      connectedClients: { sessions: { id: string; moves?: number; pausedMs?: number }[] }[];
    }>('GET', '/api/login/status/information');
    const live = info.body.connectedClients
      .flatMap((c) => c.sessions)
      .find((x) => x.id === chat.session);
    expect(live?.moves).toBe(1);
    expect(live?.pausedMs).toBeGreaterThan(0);
    // And so does the page (as rendered without JavaScript): moved once, the pause in seconds.
    const page = await site.anon.call<string>('GET', '/login/status/information', {
      headers: { accept: 'text/html', cookie: `__Host-gh-login=${site.api.tokenFor('login')}` },
    });
    const row = new RegExp(`data-session="${chat.session}"[\\s\\S]*?</tr>`).exec(page.body)?.[0];
    expect(row).toContain(`>1 (${(live!.pausedMs! / 1000).toFixed(1)} s)</td>`);
    const [sent, arrived] = await Promise.all([source.sent, received]);
    const copyMs = Date.now() - copyAt;
    echo.stop();
    expect(arrived.error).toBeUndefined();
    expect(arrived.bytes).toBe(sent.bytes);
    expect(arrived.sha256).toBe(sent.sha256);
    expect(echo.problems).toEqual([]);
    console.log(
      `kill: appliance back in ${restartMs} ms; longest echo wait ${pause} ms; copy ${COPY_BYTES / 1048576} MiB intact in ${copyMs} ms`,
    );

    // The first part was cut by the kill (recovered as interrupted), the second goes on
    // under the same session, with the move and the pause in its record's event.
    const started = await site.api.call<Ended>(
      'GET',
      '/api/login/logs?action=session.started&pageSize=100',
    );
    const parts = started.body.items.filter((e) => e.target === copy.session);
    expect(parts.map((e) => e.details.part).sort()).toEqual([1, 2]);
    expect(parts.find((e) => e.details.part === 2)?.details.moves).toBe(1);
    type Record = { id: string; moves: number; pausedMs: number };
    const records = await until(
      async () => {
        const r = await site.api.call<{ sessions: Record[] }>('GET', '/api/login/sessions');
        const mine = r.body.sessions.filter((x) => x.id.startsWith(copy.session));
        return mine.length === 2 ? mine : undefined;
      },
      20_000,
      'both parts recorded',
    );
    // The second part's record says the session moved once, and for how long it was paused.
    const second = records.find((x) => x.id === `${copy.session}.2`)!;
    expect(second.moves).toBe(1);
    expect(second.pausedMs).toBeGreaterThan(0);
    expect(records.find((x) => x.id === copy.session)!.moves).toBe(0);
    // Both sessions went on as a second part on the restarted process; none was refused.
    expect(await sessionCounts()).toEqual({ resumed: 2, failed: 0 });
  }, 240_000);

  it('refuses a wrong, expired, replayed or other-site resume token, and logs each', async () => {
    const chat = await rep.openSession('db-01', targets.echo);
    const echo = interactive(chat.socket);
    await until(() => echo.rounds() > 2, 10_000, 'the session to run');
    const claims = {
      kind: 'resume' as const,
      representative: 'admin',
      sub: 'admin',
      session: chat.session,
      jumpClient: 'db-01',
      target: targets.echo,
      paused: 0,
    };
    // Each token goes over a connection signed in with the console's ticket, as a leg's open.
    const resume = async (ticket: string) => {
      const mux = new MuxConnection(
        await openTunnel(endpoint(), GATEWAY_PATHS.mux, rep.signIn.ticket),
      );
      const open = { path: GATEWAY_PATHS.session, ticket, resume: { received: 0, pausedMs: 0 } };
      try {
        return await mux.open(open, 5_000).then(
          () => 'accepted',
          (e: { code?: string }) => e.code,
        );
      } finally {
        mux.close();
      }
    };
    const before = await sessionCounts();
    try {
      expect(await resume('gt1.not-a-token.at-all')).toBe('CLIENT_TICKET_INVALID');
      expect(await resume(issueTicket(KEY, { ...claims, gen: 1, exp: Date.now() - 1_000 }))).toBe(
        'CLIENT_TICKET_EXPIRED',
      );
      expect(
        await resume(
          issueTicket('another-site-key-0123456789abcdef', {
            ...claims,
            gen: 1,
            exp: Date.now() + 60_000,
          }),
        ),
      ).toBe('CLIENT_TICKET_INVALID');
      expect(await sessionCounts()).toEqual({ ...before, failed: before.failed + 3 });
      // The session's first part gave generation 1 tokens; break it so that part 2 begins
      // (generation 2): a generation 1 token is then a replay.
      await site.restart();
      // Echoes counted once the restart returned came through the second part.
      const atRestart = echo.rounds();
      await until(
        () => echo.rounds() > atRestart + 3,
        60_000,
        'the echo to resume after a restart',
      );
      const replayed = await resume(
        issueTicket(KEY, { ...claims, gen: 1, exp: Date.now() + 60_000 }),
      );
      expect(replayed).toBe('RESUME_TOKEN_REPLAYED');
      // The restarted process counts from 0: the chat's resume, then the replay it refused.
      expect(await sessionCounts()).toEqual({ resumed: 1, failed: 1 });
    } finally {
      echo.stop();
    }
    expect(echo.problems).toEqual([]);
    const refused = await site.api.call<Ended>(
      'GET',
      '/api/login/logs?action=session.resume.refused&pageSize=100',
    );
    expect(refused.body.items.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(refused.body.items)).toMatch(/RESUME_TOKEN_REPLAYED/);
  });
});
