import type { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../../src/clients/console.js';
import { JumpClient } from '../../src/clients/jump-client.js';
import { until } from '../../src/shared/until.js';
import { startTestAppliance } from '../support/appliance.js';
import { enrolmentToken } from '../support/jump-clients.js';
import { startTargets } from '../support/targets.js';

const PASSWORD = 'Revoked-Mid-Session-4';

/** Bytes sent through a session socket come back from the echo target. */
function echoes(socket: Duplex, data: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const onData = (c: Buffer) => {
      n += c.length;
      if (n >= data.length) {
        socket.off('data', onData);
        resolve(true);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(data);
  });
}

/** A representative with a session in progress through a Jump Client to the echo target. */
async function sessionOf(username: string) {
  const site = await startTestAppliance({ name: `revoked-${username.replace('.', '-')}` });
  const targets = await startTargets();
  const endpoint = {
    host: site.proc.host,
    port: site.proc.port,
    fingerprint: site.proc.fingerprint,
  };
  const created = await site.api.call('POST', '/api/login/users', {
    json: { username, displayName: 'Rep', password: PASSWORD },
  });
  expect(created.status).toBe(201);
  const jump = new JumpClient({
    site: endpoint,
    name: 'web-01',
    group: 'servers',
    token: await enrolmentToken(site.api),
    allow: [targets.echo],
  });
  jump.start();
  const rep = await RepresentativeConsole.signIn(endpoint, username, PASSWORD);
  await rep.connectPresence();
  await until(
    async () => (await rep.jumpClients()).some((j) => j.name === 'web-01'),
    20_000,
    'the Jump Client to register',
  );
  const { socket } = await rep.openSession('web-01', targets.echo);
  expect(await echoes(socket, Buffer.from('before the revocation'))).toBe(true);
  const ended = new Promise<string>((resolve) => {
    socket.once('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    socket.once('close', () => resolve('closed'));
  });
  return { site, targets, jump, rep, socket, ended };
}

/**
 * docs/security.md, "A representative revoked during a session": disabling the representative
 * or changing their password cuts their console and the session in progress within seconds
 * (before, nothing was cut until the ticket expired: finding 2), the session does not resume
 * with its resume token, and nothing new opens.
 */
describe('a representative revoked during a session', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  for (const [how, patch] of [
    ['disabled', { disabled: true }],
    ['given a new password', { password: 'Changed-Mid-Session-9' }],
  ] as const)
    it(`loses the session in progress within seconds when ${how}`, async () => {
      const username = how === 'disabled' ? 'rr.disabled' : 'rr.password';
      const s = await sessionOf(username);
      cleanups.push(
        () => s.rep.close(),
        () => s.jump.stop(),
        () => s.targets.close(),
      );
      const changed = await s.site.api.call('PATCH', `/api/login/users/${username}`, {
        json: patch,
      });
      expect(changed.status).toBe(200);
      const started = Date.now();
      // The session's socket ends with the reason: its resumption is refused, not awaited.
      let reason: string | undefined;
      void s.ended.then((r) => (reason = r));
      await until(() => reason !== undefined, 30_000, 'the session socket to end');
      const cutAfter = Date.now() - started;
      expect(reason).toBe('CLIENT_TICKET_REVOKED');
      expect(
        s.site.proc.output.some(
          (l) => l.includes('client revoked: connection cut') && l.includes(username),
        ),
      ).toBe(true);
      await expect(s.rep.openSession('web-01', s.targets.echo)).rejects.toMatchObject({
        code: 'CLIENT_TICKET_REVOKED',
      });
      console.log(`session of a representative ${how} ended after ${cutAfter} ms`);
    }, 120_000);
});
