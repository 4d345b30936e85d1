import { afterAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { openTunnel } from '../src/clients/tunnel.js';
import { GATEWAY_PATHS } from '../src/sessions/protocol.js';
import {
  establishPair,
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';

const KEY = 'ticket-revocation-key-0123456789abcdefghi';
const PASSWORD = 'Console-Ticket-Pw-7';

const endpointOf = (t: TestAppliance) => ({
  host: t.proc.host,
  port: t.proc.port,
  fingerprint: t.proc.fingerprint,
});

const consoles: RepresentativeConsole[] = [];
afterAll(async () => {
  for (const c of consoles) await c.close();
});

/** What an appliance answers a console ticket on the client API (the site's checks). */
const listWith = async (t: TestAppliance, ticket: string) =>
  t.anon.call<{ code?: string }>('GET', '/api/client/jump-clients', {
    headers: { authorization: `Bearer ${ticket}` },
    auth: 'none',
  });

/** What an appliance's gateway answers a console ticket (the relaying appliance's checks). */
async function gatewayAnswer(t: TestAppliance, ticket: string): Promise<string> {
  try {
    const socket = await openTunnel(endpointOf(t), GATEWAY_PATHS.console, ticket);
    socket.destroy();
    return 'accepted';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

const consolesOn = async (t: TestAppliance) =>
  (
    await t.api.call<{ connectedClients: { kind: string; name: string }[] }>(
      'GET',
      '/api/login/status/information',
    )
  ).body.connectedClients
    .filter((c) => c.kind === 'representative-console')
    .map((c) => c.name);

describe('console tickets die with their user (finding 2, medium)', () => {
  it('disabling, deleting a user or changing their password revokes their console tickets within seconds on the traffic node and the failover backup', async () => {
    const [a, b, node] = await Promise.all([
      startTestAppliance({ name: 'tr-primary', host: '127.0.0.81', interApplianceKey: KEY }),
      startTestAppliance({ name: 'tr-backup', host: '127.0.0.82', interApplianceKey: KEY }),
      startTestAppliance({ name: 'tr-node', host: '127.0.0.83', interApplianceKey: KEY }),
    ]);
    const added = await a.api.call('POST', '/api/login/cluster/nodes', {
      json: { host: node.proc.host, port: node.proc.port, region: 'east', key: KEY },
    });
    expect(added.status).toBe(201);
    const users = ['rev.disabled', 'rev.password', 'rev.deleted'];
    for (const username of users)
      expect(
        (
          await a.api.call('POST', '/api/login/users', {
            json: { username, displayName: username, password: PASSWORD },
          })
        ).status,
      ).toBe(201);
    expect((await establishPair(a, b)).status).toBe(201);
    // The first sync (a second after establishing) gives the backup the users.
    await until(
      async () =>
        (await b.api.call<{ users: { username: string }[] }>('GET', '/api/login/users')).body.users
          .length === 4,
      20_000,
      'the first sync',
    );
    // Each signs in at the site and keeps a console connection on the traffic node.
    const signedIn = new Map<string, RepresentativeConsole>();
    for (const username of [...users, 'admin']) {
      const rep = await RepresentativeConsole.signIn(
        endpointOf(a),
        username,
        username === 'admin' ? LOGIN_PASSWORD : PASSWORD,
      );
      consoles.push(rep);
      signedIn.set(username, rep);
      await rep.connectPresence();
    }
    await until(
      async () => (await consolesOn(node)).length === 4,
      10_000,
      'the consoles on the traffic node',
    );
    const ticketOf = (u: string) => signedIn.get(u)!.signIn.ticket;
    for (const u of users) expect((await listWith(a, ticketOf(u))).status).toBe(200);

    const started = Date.now();
    await a.api.call('PATCH', '/api/login/users/rev.disabled', { json: { disabled: true } });
    await a.api.call('PATCH', '/api/login/users/rev.password', {
      json: { password: 'Another-Password-9' },
    });
    await a.api.call('DELETE', '/api/login/users/rev.deleted');

    // The traffic node cuts their connections and refuses their tickets.
    await until(
      async () => (await consolesOn(node)).join() === 'admin',
      10_000,
      'the revoked consoles to be cut on the traffic node',
    );
    const onNode = Date.now() - started;
    for (const u of users)
      expect(await gatewayAnswer(node, ticketOf(u))).toBe('CLIENT_TICKET_REVOKED');
    // The site refuses them on every use.
    for (const u of users) {
      const res = await listWith(a, ticketOf(u));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('CLIENT_TICKET_REVOKED');
    }
    // The backup has the revocation without waiting for its periodic sync (300 s here).
    await until(
      async () => {
        const list = (
          await b.api.call<{ users: { username: string; disabled: boolean }[] }>(
            'GET',
            '/api/login/users',
          )
        ).body.users;
        return list.length === 3 && list.some((u) => u.username === 'rev.disabled' && u.disabled);
      },
      10_000,
      'the revocations to reach the backup',
    );
    const onBackup = Date.now() - started;
    // Once it is the primary, it refuses them too, and honours the others.
    const handover = await a.api.call('POST', '/api/login/failover/become-backup', { json: {} });
    expect(handover.status).toBe(200);
    for (const u of users)
      expect((await listWith(b, ticketOf(u))).body.code).toBe('CLIENT_TICKET_REVOKED');
    expect((await listWith(b, ticketOf('admin'))).status).toBe(200);
    // A new sign-in with the new password works.
    const again = await RepresentativeConsole.signIn(
      endpointOf(b),
      'rev.password',
      'Another-Password-9',
    );
    consoles.push(again);
    expect((await listWith(b, again.signIn.ticket)).status).toBe(200);
    process.stdout.write(
      `console tickets revoked: traffic node ${onNode} ms, failover backup ${onBackup} ms\n`,
    );
    expect(onNode).toBeLessThan(5_000);
    expect(onBackup).toBeLessThan(10_000);
  }, 180_000);
});
