/**
 * No secret in logs (BRIEF, CONVENTIONS): every secret a request carries or an answer shows
 * once — passwords, session and CSRF tokens, scrape and enrolment tokens — and every secret the
 * clients of a session hold — a Jump Client's enrolment token and installation key, console,
 * Jump Client, session and resume tickets, a customer's session key and ticket — appears
 * nowhere the appliance writes (stdout, stderr, every file of its log directory whatever its
 * name, compressed or not, its event log, and its syslog spool), even at the trace level, nor in
 * what the client processes print. The failover pair's secrets: secrets-in-logs-failover.test.ts;
 * a cluster's: secrets-in-logs-cluster.test.ts; the update server's:
 * secrets-in-logs-update-server.test.ts.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initAppliance } from '../src/appliance/init.js';
import type { ApplianceClient } from '../src/clients/admin-client.js';
import { RepresentativeConsole } from '../src/clients/console.js';
import type { SiteApi } from '../src/clients/site-api.js';
import { freePort, startApplianceProcess, type ApplianceProcess } from '../src/lab/processes.js';
import { openTunnel } from '../src/clients/tunnel.js';
import { MuxConnection } from '../src/sessions/mux.js';
import { GATEWAY_PATHS } from '../src/sessions/protocol.js';
import { generateEd25519 } from '../src/shared/crypto.js';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import { ADMIN_PASSWORD, LOGIN_PASSWORD, tempDir, until } from './support/appliance.js';
import { siteArgs, spawnCli } from './support/cli.js';
import { enrolmentToken } from './support/jump-clients.js';
import {
  applianceKeySecrets,
  eventLogOf,
  filesUnder,
  leaksIn,
  privateKeySecret,
  secret,
  syslogSpoolOf,
  type Secret,
  type Written,
} from './support/log-scan.js';
import { interactive } from './support/resume-load.js';
import { startTargets, type Targets } from './support/targets.js';

let proc: ApplianceProcess;
let api: ApplianceClient;
let dataDir: string;
let targets: Targets | undefined;
let rep: RepresentativeConsole | undefined;
/** The secrets each test gave or was shown; the last test looks for every one. */
const secrets: Secret[] = [];
/** The client processes (Jump Client, customer client), whose output is searched too. */
const clients: ReturnType<typeof spawnCli>[] = [];
/** Lines the in-process clients wrote. */
const clientTexts: Written[] = [];

beforeAll(async () => {
  dataDir = path.join(tempDir(), 'data');
  await initAppliance({
    dataDir,
    name: 'secrets-in-logs',
    hostnames: ['site.gatehouse.test'],
    addresses: ['127.0.0.1'],
    applianceAdmin: { username: 'admin', password: ADMIN_PASSWORD },
    loginAdmin: { username: 'admin', password: LOGIN_PASSWORD },
  });
  proc = await startApplianceProcess(dataDir, { logLevel: 'trace' });
  api = proc.client();
  // ~13 s alone on a shared 2-core machine (init and start); 4× that under CI's load is 52 s.
}, 180_000);

afterAll(async () => {
  await rep?.close();
  await targets?.close();
  await api?.close();
  await proc?.stop().catch(() => proc.kill());
});

/** A ticket's last part, its HMAC: with the claims (not secret) it is the ticket. */
const macOf = (ticket: string) => ticket.split('.')[2]!;
/** A session key (8 digits, read over the phone): also as "1234 5678" and "1234-5678". */
const sessionKeySecret = (label: string, key: string): Secret => ({
  label,
  forms: [
    ...secret(label, key).forms,
    `${key.slice(0, 4)} ${key.slice(4)}`,
    `${key.slice(0, 4)}-${key.slice(4)}`,
  ],
});
const ticketSecrets = (label: string, ticket: string) => {
  expect(ticket).toMatch(/^gt1\./);
  return [secret(label, ticket), secret(`${label} (its HMAC)`, macOf(ticket))];
};

/** Sign in to /login through the web form, as a browser does (pre-session cookie and CSRF field). */
async function signInForm(username: string, password: string) {
  const c = proc.client();
  const page = await c.call<string>('GET', '/login/sign-in', { headers: { accept: 'text/html' } });
  const pre = String(page.headers['set-cookie']).split(';')[0]!;
  const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(page.body)![1]!;
  const res = await c.call<string>('POST', '/login/sign-in', {
    raw: Buffer.from(new URLSearchParams({ _csrf: csrf, username, password }).toString()),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      cookie: pre,
    },
  });
  await c.close();
  return { ...res, pre, csrf };
}

describe('log lines', () => {
  it('are written while passwords, session and CSRF tokens, scrape and enrolment tokens are given or shown in requests', async () => {
    secrets.push(
      secret('the /appliance password', ADMIN_PASSWORD),
      secret('the /login password', LOGIN_PASSWORD),
    );
    const sessions = await Promise.all([
      api.signIn('appliance', 'admin', ADMIN_PASSWORD),
      api.signIn('login', 'admin', LOGIN_PASSWORD),
    ]);
    for (const [i, s] of sessions.entries())
      secrets.push(secret(`session token ${i}`, s.token), secret(`CSRF token ${i}`, s.csrfToken));
    // Events go to a syslog collector too: one that never answers (nothing listens at its
    // port), so that every event waits in the spool on disk (DATA_DIR/syslog), searched below.
    const syslog = await api.call('PUT', '/api/login/management/syslog', {
      json: {
        enabled: true,
        host: '127.0.0.1',
        port: await freePort('127.0.0.1'),
        fingerprint: proc.fingerprint,
      },
    });
    expect(syslog.status, JSON.stringify(syslog.body)).toBe(200);

    // A wrong password, in the API and in the sign-in form.
    const wrong = 'Wrong-Guess-Secret-9';
    secrets.push(secret('a wrong password', wrong));
    const refused = await proc
      .client()
      .call('POST', '/api/login/session', { json: { username: 'admin', password: wrong } });
    expect(refused.status).toBe(401);
    // As a browser does (pre-session cookie and CSRF field), so the password is checked: without
    // them the form is refused (403) before its password is looked at.
    const form = await signInForm('admin', wrong);
    expect(form.status, form.body).toBe(401);
    secrets.push(
      secret('a pre-session cookie', form.pre.split('=')[1]!),
      secret("the sign-in form's CSRF token", form.csrf),
    );
    // And right: the session cookie the answer sets is a secret too.
    const good = await signInForm('admin', LOGIN_PASSWORD);
    expect(good.status, good.body).toBe(303);
    const cookie = ([good.headers['set-cookie']].flat() as string[])
      .find((c) => c.startsWith('__Host-gh-login='))!
      .split(';')[0]!;
    secrets.push(secret('a session cookie', cookie.split('=')[1]!));

    // A new user's password, a reset one, and one in a body refused for an unknown field.
    const created = 'New-User-Secret-77';
    const reset = 'Reset-User-Secret-88';
    const refusedBody = 'Refused-Body-Secret-66';
    secrets.push(
      secret("a new user's password", created),
      secret('a reset password', reset),
      secret('a password in a refused body', refusedBody),
    );
    const user = await api.call('POST', '/api/login/users', {
      json: { username: 'ann.rep', displayName: 'Ann', password: created },
    });
    expect(user.status).toBe(201);
    const patched = await api.call('PATCH', '/api/login/users/ann.rep', {
      json: { password: reset },
    });
    expect(patched.status).toBe(200);
    const bad = await api.call('POST', '/api/login/users', {
      json: { username: 'bob.rep', password: refusedBody, colour: 'blue' },
    });
    expect(bad.status).toBe(400);
    // Signing in with it.
    const annSignIn = await proc
      .client()
      .call('POST', '/api/login/session', { json: { username: 'ann.rep', password: reset } });
    // Her password was checked and taken (a wrong one is a 401): she is no administrator.
    expect(annSignIn.status, JSON.stringify(annSignIn.body)).toBe(403);
    expect((annSignIn.body as { code?: string }).code).toBe('AUTH_NOT_ADMIN');

    // Tokens an answer shows once.
    const scrape = await api.call<{ token: string }>('POST', '/api/appliance/monitoring/tokens', {
      json: { label: 'prometheus' },
    });
    expect(scrape.status).toBe(201);
    const enrolment = await api.call<{ token: string }>('POST', '/api/login/jump-clients/tokens', {
      json: { uses: 1 },
    });
    expect(enrolment.status).toBe(201);
    secrets.push(
      secret('a scrape token', scrape.body.token),
      secret('an enrolment token shown once', enrolment.body.token),
    );
    // A scrape with the token: it reaches the server in a header.
    const metrics = await proc.client().call('GET', '/metrics', {
      headers: { authorization: `Bearer ${scrape.body.token}` },
    });
    expect(metrics.status).toBe(200);
  }, 120_000);

  it('are written while a Jump Client enrols, a console session through it resumes after its leg broke, and a customer client joins', async () => {
    targets = await startTargets();
    const site = { host: proc.host, port: proc.port, fingerprint: proc.fingerprint };

    // A Jump Client installation enrolling, as a process of its own: its token from a file,
    // its key pair generated and kept in its identity file.
    const token = await enrolmentToken(api, { uses: 1 });
    secrets.push(secret("the Jump Client's enrolment token", token));
    const dir = tempDir('gh-secrets-jc-');
    writeFileSync(path.join(dir, 'token'), token, { mode: 0o600 });
    const identity = path.join(dir, 'db-01.json');
    const jump = spawnCli([
      'jump-client',
      ...siteArgs(proc),
      '--name',
      'db-01',
      '--group',
      'servers',
      '--allow',
      targets.echo,
      '--token-file',
      path.join(dir, 'token'),
      '--identity',
      identity,
    ]);
    clients.push(jump);
    await until(() => /connected to /.test(jump.output()), 30_000, 'the Jump Client to connect');
    const enrolled = JSON.parse(readFileSync(identity, 'utf8')) as {
      privateKeyPem: string;
      installation?: string;
    };
    expect(enrolled.installation).toMatch(/^[0-9a-f-]{36}$/);
    secrets.push(privateKeySecret("the Jump Client's installation key", enrolled.privateKeyPem));
    // Its Jump Client ticket (the answer to its registration) it keeps to itself: the search for
    // any ticket at all finds it, as every other ticket, should it be written anywhere.

    // A representative's console signs in (a console ticket) and opens a session through it (a
    // session ticket, then a resume token for each leg).
    rep = await RepresentativeConsole.signIn(site, 'admin', LOGIN_PASSWORD);
    const repLines: string[] = [];
    rep.log = (line) => repLines.push(line);
    secrets.push(...ticketSecrets('the console ticket', rep.signIn.ticket));
    // The session ticket goes from the answer straight into the leg's open: the test reads it
    // on its way (the console's own SiteApi, its answer unchanged).
    const siteApi = (rep as unknown as { api: SiteApi }).api;
    const startSession = siteApi.startSession.bind(siteApi);
    siteApi.startSession = async (...args) => {
      const started = await startSession(...args);
      secrets.push(...ticketSecrets('a session ticket', started.ticket));
      return started;
    };
    const { socket } = await rep.openSession('db-01', targets.echo);
    /** The console's end of the leg (a ResumableLeg): the resume token it holds now. */
    const leg = socket as Duplex & { token: string; moves: number };
    const echo = interactive(socket);
    try {
      await until(() => echo.rounds() > 3, 20_000, 'the session to echo');
      const first = leg.token;
      secrets.push(...ticketSecrets('the first resume token', first));
      // The leg breaks: the console's relay connection is cut under it (as a network would).
      const relays = (rep as unknown as { relays: { open: Set<MuxConnection> } }).relays.open;
      expect(relays.size).toBe(1);
      for (const mux of relays) mux.socket.destroy();
      const atBreak = echo.rounds();
      await until(
        () => leg.moves === 1 && echo.rounds() > atBreak + 3,
        30_000,
        'the session to resume with its resume tokens',
      );
      expect(leg.token).not.toBe(first);
      secrets.push(...ticketSecrets('the second resume token', leg.token));
      expect(echo.problems).toEqual([]);
      // The first token again, as a leg's open: refused as a replay (and the refusal logged).
      const mux = new MuxConnection(await openTunnel(site, GATEWAY_PATHS.mux, rep.signIn.ticket));
      try {
        const replay = await mux
          .open(
            { path: GATEWAY_PATHS.session, ticket: first, resume: { received: 0, pausedMs: 0 } },
            10_000,
          )
          .then(
            () => 'accepted',
            (e: { code?: string }) => e.code,
          );
        expect(replay).toBe('RESUME_TOKEN_REPLAYED');
      } finally {
        mux.close();
      }
    } finally {
      echo.stop();
      socket.destroy();
    }

    // Refused credentials of clients: an enrolment token the site never gave, a wrong session key.
    const unknownToken = `gjt1_${randomBytes(32).toString('base64url')}`;
    const wrongKey = String(randomInt(10_000_000, 100_000_000));
    secrets.push(secret('a refused enrolment token', unknownToken));
    const anon = proc.client();
    const enrol = await anon.call<{ code: string }>('POST', '/api/client/jump-clients/enrol', {
      json: {
        name: 'db-02',
        group: 'servers',
        token: unknownToken,
        publicKey: generateEd25519().publicKeyPem,
      },
      auth: 'none',
    });
    expect(enrol.body.code).toBe('JUMP_CLIENT_TOKEN_INVALID');
    const join = await anon.call<{ code: string }>('POST', '/api/client/customers/join', {
      json: { key: wrongKey, version: PRODUCT_VERSION },
      auth: 'none',
    });
    expect(join.body.code).toBe('SESSION_KEY_WRONG');
    await anon.close();

    // A customer client joins with a session key the representative gives (8 digits, as read
    // over the phone): the key is a secret, and so is the ticket it joins with.
    const issued = await rep.sessionKey();
    const key = issued.key;
    expect(key).toMatch(/^\d{8}$/);
    secrets.push(
      sessionKeySecret('the session key', key),
      sessionKeySecret('a wrong session key', wrongKey),
    );
    const customer = spawnCli(['customer-client', ...siteArgs(proc), '--allow', targets.echo], {
      GATEHOUSE_SESSION_KEY: key,
    });
    clients.push(customer);
    await until(
      async () => (await rep!.jumpClients()).some((j) => j.name === issued.customerClient),
      30_000,
      'the customer client to join',
    );
    // What the console printed (its own log) holds none either.
    clientTexts.push({ source: "the console's log", text: repLines.join('\n') });
  }, 120_000);

  it("hold none of these secrets, nor any ticket or enrolment token: stdout, stderr, every file of the log directory, the event log, the clients' output", async () => {
    expect(secrets.length).toBeGreaterThan(20);
    // Each client process ends (its output whole), then the appliance (its files written out).
    for (const c of clients) {
      c.child.kill('SIGTERM');
      await c.exited;
    }
    await rep?.close();
    rep = undefined;
    await proc.stop();
    await proc.outputClosed;
    secrets.push(...applianceKeySecrets(dataDir, 'the appliance'));
    const logFiles = filesUnder(path.join(dataDir, 'logs'));
    const spool = syslogSpoolOf(dataDir);
    const written: Written[] = [
      { source: "the appliance's stdout and stderr", text: proc.output.join('\n') },
      ...logFiles,
      eventLogOf(dataDir),
      spool,
      ...filesUnder(path.join(dataDir, 'syslog')),
      ...clientTexts,
      ...clients.map((c, i) => ({ source: `client process ${i}`, text: c.output() })),
    ];
    // What was searched holds the lines of what was done: the leaks would be among them.
    const all = written.map((w) => w.text).join('\n');
    for (const done of [
      '/api/login/users',
      '/api/client/jump-clients/enrol',
      '/api/client/sessions',
      '/api/client/customers/join',
      'jump client connected',
      'jump-client.enrolled',
      'session-key.issued',
      'session.resume.refused',
    ])
      expect(all, done).toContain(done);
    // The log files themselves were written, with the requests of the clients and the console:
    // not only the other texts. (At --log-level trace the appliance writes no line below info:
    // none to look for here.)
    const logged = logFiles.map((w) => w.text).join('\n');
    for (const request of [
      '/api/login/users',
      '/api/client/jump-clients/enrol',
      '/api/client/jump-clients/challenge',
      '/api/client/sessions',
      '/api/client/customers/join',
    ])
      expect(logged, `${request} in the log files`).toContain(request);
    // The syslog spool holds the events of what was done, waiting for the collector.
    for (const event of ['jump-client.enrolled', 'session-key.issued', 'session.resume.refused'])
      expect(spool.text, `${event} in the syslog spool`).toContain(event);
    expect(leaksIn(written, secrets)).toEqual([]);
  }, 120_000);
});
