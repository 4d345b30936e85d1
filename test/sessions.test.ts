import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import { SiteApi } from '../src/clients/site-api.js';
import { openTunnel } from '../src/clients/tunnel.js';
import {
  GATEWAY_PATHS,
  LineChannel,
  splitTarget,
  type ToJumpClient,
} from '../src/sessions/protocol.js';
import { WORKER_V8_FLAGS } from '../src/appliance/supervisor.js';
import { parseRecording } from '../src/sessions/recording.js';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { startTargets, type Targets } from './support/targets.js';
import { enrolmentToken } from './support/jump-clients.js';

interface SessionRecord {
  id: string;
  representative: string;
  jumpClient: string;
  target: string;
  endedAt: number;
  bytesIn: number;
  bytesOut: number;
  recordingSha256: string;
}

/** Send bytes through a session socket and collect as many back. */
function echoThrough(socket: Duplex, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let n = 0;
    socket.on('data', (c: Buffer) => {
      got.push(c);
      n += c.length;
      if (n >= data.length) resolve(Buffer.concat(got));
    });
    socket.on('error', reject);
    socket.write(data);
  });
}

const recordOf = async (t: TestAppliance, id: string) => {
  let rec: SessionRecord | undefined;
  await until(
    async () => {
      const res = await t.api.call<{ sessions: SessionRecord[] }>('GET', '/api/login/sessions');
      rec = res.body.sessions.find((s) => s.id === id);
      return rec !== undefined;
    },
    10_000,
    `session record ${id}`,
  );
  return rec!;
};

describe('sessions relayed through a Jump Client (real appliance, Jump Client and console)', () => {
  let site: TestAppliance;
  let targets: Targets;
  let jump: JumpClient;
  let rep: RepresentativeConsole;
  let token: string;

  beforeAll(async () => {
    [site, targets] = await Promise.all([
      startTestAppliance({ name: 'relay-site' }),
      startTargets(),
    ]);
    token = await enrolmentToken(site.api);
    jump = new JumpClient({
      site: { host: site.proc.host, port: site.proc.port, fingerprint: site.proc.fingerprint },
      name: 'web-01',
      group: 'servers',
      token,
      allow: [targets.echo, targets.http],
    });
    jump.start();
    rep = await RepresentativeConsole.signIn(
      { host: site.proc.host, port: site.proc.port, fingerprint: site.proc.fingerprint },
      'admin',
      LOGIN_PASSWORD,
    );
    await until(
      async () => (await rep.jumpClients()).some((j) => j.name === 'web-01'),
      10_000,
      'the Jump Client to register',
    );
  });
  afterAll(async () => {
    await rep?.close();
    await jump?.stop();
    await targets?.close();
  });

  it('carries bytes end to end byte for byte, and records both directions', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const { session, socket } = await rep.openSession('web-01', targets.echo);
    const back = await echoThrough(socket, data);
    expect(createHash('sha256').update(back).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
    // While it runs, Status > Information shows the Jump Client with the session.
    const info = await site.api.call<{
      connectedClients: { name: string; sessions: { id: string }[] }[];
    }>('GET', '/api/login/status/information');
    expect(
      info.body.connectedClients.find((c) => c.name === 'web-01')?.sessions.map((s) => s.id),
    ).toContain(session);
    socket.end();

    const rec = await recordOf(site, session);
    expect(rec).toMatchObject({
      representative: 'admin',
      jumpClient: 'web-01',
      target: targets.echo,
    });
    expect(rec.bytesOut).toBe(data.length);
    expect(rec.bytesIn).toBe(data.length);
    const file = await site.api.call<Buffer>('GET', `/api/login/sessions/${session}/recording`);
    expect(file.status).toBe(200);
    const { header, frames, truncated } = parseRecording(file.body);
    expect(truncated).toBe(false);
    expect(header.session).toBe(session);
    const sent = Buffer.concat(
      frames.filter((f) => f.direction === 'to-target').map((f) => f.data),
    );
    const received = Buffer.concat(
      frames.filter((f) => f.direction === 'from-target').map((f) => f.data),
    );
    expect(sent.equals(data)).toBe(true);
    expect(received.equals(data)).toBe(true);
    // Frames carry the time they passed, never going back.
    expect(frames.every((f, i) => i === 0 || f.at >= frames[i - 1]!.at)).toBe(true);
    const started = await site.api.call<{ items: { target: string }[] }>(
      'GET',
      '/api/login/logs?action=session.started',
    );
    expect(started.body.items.map((e) => e.target)).toContain(session);
  });

  it('relays in a worker whose young generation is capped, so scavenges free the TLS reads', () => {
    // The supervisor's children (/proc keeps them per thread; the main thread forks).
    const supervisor = site.proc.child.pid!;
    const children = readFileSync(`/proc/${supervisor}/task/${supervisor}/children`, 'utf8')
      .trim()
      .split(' ');
    const worker = children
      .map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))
      .find((args) => args.includes('appliance') && args.includes('run'));
    expect(worker).toEqual(expect.arrayContaining(WORKER_V8_FLAGS));
  });

  it('forwards a local port to an HTTP target', async () => {
    const server = await rep.forward('web-01', targets.http, { host: '127.0.0.1', port: 0 });
    const port = (server.address() as net.AddressInfo).port;
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/hello', agent: false }, (res) => {
          let text = '';
          res
            .setEncoding('utf8')
            .on('data', (c: string) => (text += c))
            .on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    expect(body).toBe('hello from the remote computer: /hello');
    server.close();
  });

  it('refuses what is not allowed, each with its own clear error', async () => {
    await expect(rep.openSession('web-01', '127.0.0.1:1')).rejects.toMatchObject({
      code: 'TARGET_NOT_ALLOWED',
    });
    await expect(rep.openSession('db-99', targets.echo)).rejects.toMatchObject({
      code: 'JUMP_CLIENT_NOT_CONNECTED',
    });
    const wrong = await site.anon.call('POST', '/api/client/jump-clients/register', {
      json: { name: 'intruder', key: 'not-the-key', version: '0.0.1' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ code: 'JUMP_CLIENT_KEY_WRONG' });
    await expect(
      RepresentativeConsole.signIn(
        { host: site.proc.host, port: site.proc.port, fingerprint: site.proc.fingerprint },
        'admin',
        'wrong-password-1',
      ),
    ).rejects.toMatchObject({ code: 'AUTH_INVALID_CREDENTIALS' });
    const forged = await site.anon.call('GET', '/api/client/jump-clients', {
      headers: { authorization: 'Bearer gt1.e30.AAAA' },
    });
    expect(forged.status).toBe(401);
  });

  /**
   * A Jump Client driven by hand over the protocol (with `version`), once the site lists it;
   * `onMessage` gets what the site sends it.
   */
  async function handMadeJumpClient(
    name: string,
    version: string,
    onMessage: (m: ToJumpClient, channel: LineChannel<ToJumpClient>) => void,
  ) {
    const endpoint = {
      host: site.proc.host,
      port: site.proc.port,
      fingerprint: site.proc.fingerprint,
    };
    const api = new SiteApi(endpoint);
    // As the previous release registered: with the site-wide key, which a site upgraded from it
    // accepts while its upgrade window is open.
    await site.api.call('PUT', '/api/login/jump-clients/legacy-key', { json: { open: true } });
    const { key } = (await site.api.call<{ key: string }>('GET', '/api/login/jump-clients/key'))
      .body;
    const reg = (
      await site.anon.call<{ ticket: string }>('POST', '/api/client/jump-clients/register', {
        json: { name, group: 'servers', key, version },
        auth: 'none',
      })
    ).body;
    const control = await openTunnel(endpoint, GATEWAY_PATHS.jumpClient, reg.ticket, {
      'X-Gatehouse-Targets': targets.echo,
    });
    const channel: LineChannel<ToJumpClient> = new LineChannel<ToJumpClient>(
      control,
      (v) => v as ToJumpClient,
      (m) => onMessage(m, channel),
      () => undefined,
    );
    const close = async () => {
      channel.close('test over');
      await api.close();
    };
    await until(
      async () => (await rep.jumpClients()).some((j) => j.name === name),
      10_000,
      `${name} to be listed`,
    ).catch(async (e: unknown) => {
      await close();
      throw e;
    });
    return { endpoint, api, close };
  }

  it('still relays a session of clients of the previous release, each leg on a connection of its own', async () => {
    // A Jump Client as the previous release ran it: a connection per session leg.
    const old = await handMadeJumpClient('old-01', '1.0.0', (m, channel) => {
      if (m.type === 'ping') channel.send({ type: 'pong' });
      if (m.type !== 'open') return;
      const target = net.connect(splitTarget(m.target));
      void openTunnel(old.endpoint, GATEWAY_PATHS.jumpData, m.ticket).then((leg) => {
        target.pipe(leg).pipe(target);
        leg.on('close', () => target.destroy());
        target.on('close', () => leg.destroy());
      });
    });
    try {
      const s = await old.api.startSession(rep.signIn.ticket, {
        jumpClient: 'old-01',
        target: targets.echo,
      });
      const socket = await openTunnel(old.endpoint, GATEWAY_PATHS.session, s.ticket);
      const data = randomBytes(256 * 1024);
      expect((await echoThrough(socket, data)).equals(data)).toBe(true);
      socket.end();
      expect((await recordOf(site, s.session)).bytesIn).toBe(data.length);
    } finally {
      await old.close();
    }
  });

  it('answers an open early, with a code the console retries on, when the Jump Client it was sent to disconnects', async () => {
    // A Jump Client that leaves (moves to another node, say) as the open arrives.
    const leaving = await handMadeJumpClient('leaving-01', PRODUCT_VERSION, (m, channel) => {
      if (m.type === 'open') channel.close('moving');
    });
    try {
      const s = await leaving.api.startSession(rep.signIn.ticket, {
        jumpClient: 'leaving-01',
        target: targets.echo,
      });
      const t0 = Date.now();
      const refused = await openTunnel(leaving.endpoint, GATEWAY_PATHS.session, s.ticket).then(
        (socket) => {
          socket.destroy();
          throw new Error('the session opened');
        },
        (e: Error & { code?: string }) => e,
      );
      // Not the full 10 s wait for a leg that will never come (a 6 s grace for one under way).
      expect(Date.now() - t0).toBeLessThan(9_000);
      expect(refused.code).toBe('JUMP_CLIENT_NOT_CONNECTED');
      expect(refused.message).toMatch(/disconnected from this appliance/);
    } finally {
      await leaving.close();
    }
  });

  it('records a session cut short by a SIGKILL of the appliance, and the Jump Client comes back', async () => {
    const { session, socket } = await rep.openSession('web-01', targets.echo);
    const data = randomBytes(64 * 1024);
    await echoThrough(socket, data);
    socket.on('error', () => undefined);
    // The relay writes the recording behind the bytes (in batches): kill once both directions
    // are in the file, as they would be a few milliseconds into any real session.
    const file = path.join(site.dataDir, 'recordings', `${session}.rec`);
    await until(
      () => existsSync(file) && statSync(file).size > 2 * data.length,
      10_000,
      'the recording on disk',
    );
    await site.crashAndRestart();
    const rec = await recordOf(site, session);
    expect(rec.bytesOut).toBe(data.length);
    const ended = await site.api.call<{ items: { target: string; details: { reason: string } }[] }>(
      'GET',
      '/api/login/logs?action=session.ended&pageSize=50',
    );
    expect(ended.body.items.find((e) => e.target === session)?.details.reason).toMatch(
      /interrupted/,
    );
    await until(
      async () => (await rep.jumpClients()).some((j) => j.name === 'web-01'),
      20_000,
      'the Jump Client to reconnect',
    );
    const again = await rep.openSession('web-01', targets.echo);
    expect((await echoThrough(again.socket, Buffer.from('still here'))).toString()).toBe(
      'still here',
    );
    again.socket.end();
  });
});
