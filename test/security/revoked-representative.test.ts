import type { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../../src/clients/console.js';
import { JumpClient } from '../../src/clients/jump-client.js';
import { until } from '../../src/shared/until.js';
import { startTestAppliance } from '../support/appliance.js';
import { enrolmentToken } from '../support/jump-clients.js';
import { startTargets, type Targets } from '../support/targets.js';

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

/**
 * docs/security.md, "A representative revoked during a session": disabling the representative
 * cuts their console and the session in progress within seconds (before, nothing was cut until
 * the ticket expired: finding 2), and nothing new opens.
 */
describe('a representative disabled during a session', () => {
  let targets: Targets | undefined;
  let jump: JumpClient | undefined;
  let rep: RepresentativeConsole | undefined;
  afterAll(async () => {
    await rep?.close();
    await jump?.stop();
    await targets?.close();
  });

  it('loses the session in progress within seconds and cannot open another', async () => {
    const site = await startTestAppliance({ name: 'revoked-rep' });
    targets = await startTargets();
    const endpoint = {
      host: site.proc.host,
      port: site.proc.port,
      fingerprint: site.proc.fingerprint,
    };
    expect(
      (
        await site.api.call('POST', '/api/login/users', {
          json: { username: 'rr.rep', displayName: 'Rep', password: PASSWORD },
        })
      ).status,
    ).toBe(201);
    jump = new JumpClient({
      site: endpoint,
      name: 'web-01',
      group: 'servers',
      token: await enrolmentToken(site.api),
      allow: [targets.echo],
    });
    jump.start();
    rep = await RepresentativeConsole.signIn(endpoint, 'rr.rep', PASSWORD);
    await rep.connectPresence();
    await until(
      async () => (await rep!.jumpClients()).some((j) => j.name === 'web-01'),
      20_000,
      'the Jump Client to register',
    );
    const { socket } = await rep.openSession('web-01', targets.echo);
    expect(await echoes(socket, Buffer.from('before the revocation'))).toBe(true);
    socket.on('error', () => undefined);

    const disabled = await site.api.call('PATCH', '/api/login/users/rr.rep', {
      json: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    const started = Date.now();
    await until(
      () =>
        site.proc.output.some(
          (l) => l.includes('client revoked: connection cut') && l.includes('rr.rep'),
        ),
      15_000,
      'the console and its sessions to be cut',
    );
    const cutAfter = Date.now() - started;
    // The session carries nothing any more. (The console's own socket is not closed at once: it
    // waits as for a paused resumable session, whose resumption the appliance refuses.)
    const after = await Promise.race([
      echoes(socket, Buffer.from('after the revocation')).then(() => 'echoed'),
      new Promise<string>((r) => setTimeout(() => r('silent'), 5_000)),
    ]).catch(() => 'failed');
    expect(after).not.toBe('echoed');
    await expect(rep.openSession('web-01', targets.echo)).rejects.toMatchObject({
      code: 'CLIENT_TICKET_REVOKED',
    });
    console.log(`session of a disabled representative cut after ${cutAfter} ms`);
  }, 120_000);
});
