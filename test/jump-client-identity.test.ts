import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import { openTunnel } from '../src/clients/tunnel.js';
import { GATEWAY_PATHS, LineChannel } from '../src/sessions/protocol.js';
import { generateEd25519 } from '../src/shared/crypto.js';
import { PRODUCT_VERSION } from '../src/shared/version.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { enrolmentToken } from './support/jump-clients.js';
import { startTargets, type Targets } from './support/targets.js';

const siteOf = (t: TestAppliance) => ({
  host: t.proc.host,
  port: t.proc.port,
  fingerprint: t.proc.fingerprint,
});

const clients: JumpClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.stop();
});

/** A Jump Client installation (its own key pair) that remembers why the site refused it. */
function jumpClient(t: TestAppliance, name: string, token: string, allow: string[]) {
  const refused: { error?: Error } = {};
  const client = new JumpClient({
    site: siteOf(t),
    name,
    group: 'servers',
    token,
    allow,
    onRefused: (e) => (refused.error = e),
  });
  clients.push(client);
  client.start();
  return { client, refused };
}

interface Event {
  action: string;
  target: string;
  outcome: string;
  details: Record<string, unknown>;
}
const events = async (t: TestAppliance, action: string) =>
  (
    await t.api.call<{ items: Event[] }>(
      'GET',
      `/api/login/logs?action=${encodeURIComponent(action)}&pageSize=100`,
    )
  ).body.items.filter((e) => e.action === action);

async function echoOnce(rep: RepresentativeConsole, name: string, target: string) {
  const { socket } = await rep.openSession(name, target);
  const back = await new Promise<string>((resolve, reject) => {
    socket.once('data', (d: Buffer) => resolve(d.toString()));
    socket.once('error', reject);
    socket.write('who are you?');
  });
  socket.end();
  return back;
}

describe('Jump Client identity: one installation per name (finding 1, high)', () => {
  let site: TestAppliance;
  let targets: Targets;

  it('refuses and logs a second installation under a taken name; sessions still reach the first', async () => {
    [site, targets] = await Promise.all([startTestAppliance({ name: 'id-site' }), startTargets()]);
    // One token for two computers: the impostor holds a valid credential of the site.
    const token = await enrolmentToken(site.api, { uses: 2 });
    const real = jumpClient(site, 'web-01', token, [targets.echo]);
    await until(() => real.client.state === 'connected', 15_000, 'the real Jump Client');
    const impostor = jumpClient(site, 'web-01', token, [targets.echo]);
    await until(() => impostor.refused.error !== undefined, 15_000, 'the impostor refused');
    expect(impostor.refused.error).toMatchObject({ code: 'JUMP_CLIENT_NAME_TAKEN', status: 409 });
    expect(impostor.client.state).toBe('stopped');
    expect(real.client.state).toBe('connected');
    const denied = (await events(site, 'jump-client.enrolled')).filter(
      (e) => e.outcome === 'denied' && e.target === 'web-01',
    );
    expect(denied[0]?.details.reason).toBe('JUMP_CLIENT_NAME_TAKEN');

    // Nor can it sign for the real installation: its key is not the one bound to the name.
    const installations = (
      await site.api.call<{ installations: { id: string; name: string }[] }>(
        'GET',
        '/api/login/jump-clients/installations',
      )
    ).body.installations;
    const realId = installations.find((i) => i.name === 'web-01')!.id;
    const { challenge } = (
      await site.anon.call<{ challenge: string }>('POST', '/api/client/jump-clients/challenge', {
        json: { name: 'web-01' },
        auth: 'none',
      })
    ).body;
    const forged = await site.anon.call('POST', '/api/client/jump-clients/register', {
      json: { name: 'web-01', installation: realId, challenge, signature: 'AAAA' },
      auth: 'none',
    });
    expect(forged.status).toBe(401);
    expect(forged.body).toMatchObject({ code: 'JUMP_CLIENT_SIGNATURE_INVALID' });

    // The representative's session goes to the real installation, which answers.
    const rep = await RepresentativeConsole.signIn(siteOf(site), 'admin', LOGIN_PASSWORD);
    try {
      expect(await echoOnce(rep, 'web-01', targets.echo)).toBe('who are you?');
    } finally {
      await rep.close();
    }
  });

  it('gives clear errors for a wrong, used-up or other-name token and a key that is not Ed25519', async () => {
    const enrol = (body: Record<string, unknown>) =>
      site.anon.call<{ code: string }>('POST', '/api/client/jump-clients/enrol', {
        json: { name: 'db-01', publicKey: generateEd25519().publicKeyPem, ...body },
        auth: 'none',
      });
    expect((await enrol({ token: 'gjt1_not-a-token' })).body.code).toBe(
      'JUMP_CLIENT_TOKEN_INVALID',
    );
    const forOther = await enrolmentToken(site.api, { uses: 1, name: 'db-02' });
    expect((await enrol({ token: forOther })).body.code).toBe('JUMP_CLIENT_TOKEN_OTHER_NAME');
    const once = await enrolmentToken(site.api, { uses: 1 });
    expect((await enrol({ token: once })).status).toBe(201);
    const spent = await enrol({ token: once, name: 'db-03' });
    expect(spent.body.code).toBe('JUMP_CLIENT_TOKEN_INVALID');
    const rsa = await enrol({ token: await enrolmentToken(site.api), publicKey: 'not a key' });
    expect(rsa.status).toBe(400);
    expect(JSON.stringify(rsa.body)).toContain('publicKey');
    // A fresh site never takes the site-wide key.
    const { key } = (await site.api.call<{ key: string }>('GET', '/api/login/jump-clients/key'))
      .body;
    expect((await enrol({ token: key, name: 'db-04' })).body.code).toBe(
      'JUMP_CLIENT_LEGACY_KEY_CLOSED',
    );
    const badToken = await site.api.call('POST', '/api/login/jump-clients/tokens', {
      json: { uses: 0, rebind: true },
    });
    expect(badToken.status).toBe(400);
    expect(JSON.stringify(badToken.body)).toMatch(/uses.*rebind|rebind.*uses/s);
    await targets.close();
  });
});

describe('Jump Client identity through an upgrade from the site-wide key', () => {
  it('keeps installations of the previous release working, binds each name on first enrolment, and ends the key when the window closes', async () => {
    const [site, targets] = await Promise.all([
      startTestAppliance({ name: 'upgraded-site' }),
      startTargets(),
    ]);
    // Make its database the previous release's (schema 2), as it was before this upgrade; the
    // start that follows migrates it as an upgrade would.
    await site.restart(() => {
      const db = new Database(path.join(site.dataDir, 'store', 'gatehouse.db'));
      const triggers = db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%config_changes%'",
        )
        .all() as { name: string }[];
      for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
      db.exec(`
        DROP TABLE config_changes; DROP TABLE jump_client_installations;
        DROP TABLE jump_client_tokens; ALTER TABLE users DROP COLUMN ticket_generation;
        DELETE FROM site_settings WHERE key = 'jumpClients.legacyKeyEnrolment';
        ALTER TABLE session_records DROP COLUMN moves;
        ALTER TABLE session_records DROP COLUMN paused_ms;
        PRAGMA user_version = 2;`);
      db.close();
    });
    const { key, open } = (
      await site.api.call<{ key: string; open: boolean }>('GET', '/api/login/jump-clients/key')
    ).body;
    expect(open).toBe(true);

    // A Jump Client of the previous release: the site-wide key, no key pair of its own.
    const oldRelease = async (name: string) => {
      const reg = await site.anon.call<{ ticket: string; code?: string }>(
        'POST',
        '/api/client/jump-clients/register',
        { json: { name, group: 'old', key, version: PRODUCT_VERSION }, auth: 'none' },
      );
      return reg;
    };
    const old = await oldRelease('old-01');
    expect(old.status).toBe(201);
    const control = await openTunnel(siteOf(site), GATEWAY_PATHS.jumpClient, old.body.ticket, {
      'X-Gatehouse-Targets': targets.echo,
    });
    let oldClosed = '';
    const channel = new LineChannel(
      control,
      (v) => v,
      () => undefined,
      (reason) => (oldClosed = reason),
    );

    // An installation of this release started with its old command line (the key only): it
    // enrols its own key pair once, trusted on first use, and is bound to its name.
    const upgraded = jumpClient(site, 'web-01', key, [targets.echo]);
    await until(() => upgraded.client.state === 'connected', 15_000, 'the upgraded Jump Client');
    const bound = (
      await site.api.call<{ installations: { name: string; enrolledWith: string }[] }>(
        'GET',
        '/api/login/jump-clients/installations',
      )
    ).body.installations.find((i) => i.name === 'web-01');
    expect(bound?.enrolledWith).toBe('legacy-key');

    // Whoever else holds the key cannot take that name: neither the old protocol nor a new
    // installation with its own key pair.
    const oldImpostor = await oldRelease('web-01');
    expect(oldImpostor.status).toBe(409);
    expect(oldImpostor.body.code).toBe('JUMP_CLIENT_NAME_TAKEN');
    const newImpostor = jumpClient(site, 'web-01', key, [targets.echo]);
    await until(() => newImpostor.refused.error !== undefined, 15_000, 'the impostor refused');
    expect(newImpostor.refused.error).toMatchObject({ code: 'JUMP_CLIENT_NAME_TAKEN' });
    expect(
      (await events(site, 'jump-client.registered')).some(
        (e) => e.outcome === 'denied' && e.details.reason === 'JUMP_CLIENT_NAME_TAKEN',
      ),
    ).toBe(true);

    // The administrator closes the window: the key is refused and the old client is cut.
    expect(oldClosed).toBe('');
    const closed = await site.api.call('PUT', '/api/login/jump-clients/legacy-key', {
      json: { open: false },
    });
    expect(closed.status).toBe(200);
    await until(() => oldClosed !== '', 5_000, 'the legacy client to be cut');
    expect((await oldRelease('old-01')).body.code).toBe('JUMP_CLIENT_LEGACY_KEY_CLOSED');
    channel.close('test over');
    // The enrolled installation goes on, and reconnects with its own key.
    await site.restart();
    await until(() => upgraded.client.state === 'connected', 20_000, 'the reconnection');
    const rep = await RepresentativeConsole.signIn(siteOf(site), 'admin', LOGIN_PASSWORD);
    try {
      expect(await echoOnce(rep, 'web-01', targets.echo)).toBe('who are you?');
    } finally {
      await rep.close();
    }
    await targets.close();
  });
});

const KEY = 'identity-cluster-key-0123456789abcdefghij';

describe('revoking a Jump Client installation in a cluster', () => {
  it('cuts its connection on the traffic node within seconds, and it cannot come back', async () => {
    const [primary, node, targets] = await Promise.all([
      startTestAppliance({ name: 'rev-primary', host: '127.0.0.71', interApplianceKey: KEY }),
      startTestAppliance({ name: 'rev-node', host: '127.0.0.72', interApplianceKey: KEY }),
      startTargets(),
    ]);
    const added = await primary.api.call('POST', '/api/login/cluster/nodes', {
      json: { host: node.proc.host, port: node.proc.port, region: 'east', key: KEY },
    });
    expect(added.status).toBe(201);
    const j = jumpClient(primary, 'edge-01', await enrolmentToken(primary.api), [targets.echo]);
    await until(() => j.client.state === 'connected', 15_000, 'the Jump Client');
    expect(j.client.connectedTo).toBe('rev-node');
    const installations = async (t: TestAppliance) =>
      (
        await t.api.call<{
          installations: { id: string; name: string; revokedAt: string | null }[];
        }>('GET', '/api/login/jump-clients/installations')
      ).body.installations;
    // The node learns the installation from its primary node's push.
    await until(
      async () => (await installations(node)).some((i) => i.name === 'edge-01'),
      5_000,
      'the installation to reach the node',
    );
    const id = (await installations(primary)).find((i) => i.name === 'edge-01')!.id;

    const started = Date.now();
    const revoked = await primary.api.call(
      'POST',
      `/api/login/jump-clients/installations/${id}/revoke`,
    );
    expect(revoked.status).toBe(200);
    await until(() => j.refused.error !== undefined, 10_000, 'the revoked client to be cut');
    const ms = Date.now() - started;
    expect(j.refused.error).toMatchObject({ code: 'JUMP_CLIENT_REVOKED' });
    expect(ms).toBeLessThan(5_000);
    expect((await installations(node)).find((i) => i.id === id)?.revokedAt).not.toBeNull();
    const listed = await node.api.call<{ connectedClients: { name: string }[] }>(
      'GET',
      '/api/login/status/information',
    );
    expect(listed.body.connectedClients.map((c) => c.name)).not.toContain('edge-01');
    expect((await events(primary, 'jump-client.revoked')).some((e) => e.target === 'edge-01')).toBe(
      true,
    );
    process.stdout.write(`revocation reached the traffic node and cut the client in ${ms} ms\n`);
    await targets.close();
  });
});
