import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/lab/processes.js';
import { startTestAppliance, tempDir, until } from './support/appliance.js';
import { startTargets } from './support/targets.js';
import { cli, siteArgs, siteSignIn, spawnCli } from './support/cli.js';
import { enrolmentToken } from './support/jump-clients.js';
import { generateEd25519 } from '../src/shared/crypto.js';

interface Listed {
  name: string;
  kind: string;
  representative?: string;
}
interface Information {
  connectedClients: {
    kind: string;
    name: string;
    representative?: string;
    sessions: { jumpClient: string }[];
  }[];
}

/** `gatehouse console connect` to `jumpClient`'s echo target, once it listens. */
async function forward(jumpClient: string, target: string, profile: string) {
  const port = await freePort('127.0.0.1');
  const fwd = spawnCli([
    'console',
    'connect',
    '--jump-client',
    jumpClient,
    '--target',
    target,
    '--listen',
    `127.0.0.1:${port}`,
    '--profile',
    profile,
  ]);
  await until(() => fwd.output().includes('listening on'), 15_000, 'console connect to listen');
  return { ...fwd, port };
}

describe('gatehouse customer-client (real processes)', () => {
  it("joins with a representative's session key, once; only that representative sees it and opens sessions through it; Status > Information shows it", async () => {
    const [site, targets] = await Promise.all([
      startTestAppliance({ name: 'customer-site' }),
      startTargets(),
    ]);
    const toSite = siteArgs(site.proc);
    const admin = siteSignIn(site.proc);
    const otherPassword = 'Green-Lantern-42';
    expect(
      (
        await site.api.call('POST', '/api/login/users', {
          json: { username: 'bo.rep', displayName: 'Bo Rep', password: otherPassword },
        })
      ).status,
    ).toBe(201);
    const profile = path.join(tempDir(), 'admin.json');
    const otherProfile = path.join(tempDir(), 'bo.json');
    // Independent commands run at once here and below: each is a process start, slow on a
    // loaded machine.
    await Promise.all([
      cli(['console', 'sign-in', ...admin.args, '--profile', profile], admin.env),
      cli(['console', 'sign-in', ...toSite, '--user', 'bo.rep', '--profile', otherProfile], {
        GATEHOUSE_PASSWORD: otherPassword,
      }),
    ]);

    // Bad input: no key, a key that is not digits, a key the site never gave. Each exits 2 and
    // names --key; the wrong one is refused by the site and stops the client.
    const noKey = spawnCli(['customer-client', ...toSite, '--allow', targets.echo]);
    const letters = spawnCli([
      'customer-client',
      ...toSite,
      '--key',
      'abc',
      '--allow',
      targets.echo,
    ]);
    const wrong = spawnCli([
      'customer-client',
      ...toSite,
      '--key',
      '00000001',
      '--allow',
      targets.echo,
    ]);
    expect(await noKey.exited).toBe(2);
    expect(noKey.output()).toMatch(/--key.*is required/);
    expect(await letters.exited).toBe(2);
    expect(letters.output()).toMatch(/--key.*digits/);
    expect(await wrong.exited).toBe(2);
    expect(wrong.output()).toContain('SESSION_KEY_WRONG');
    expect(wrong.output()).toContain('key: is not a session key waiting on this site');

    const [issuedOut, human] = await Promise.all([
      cli(['console', 'session-key', '--json', '--profile', profile]),
      cli(['console', 'session-key', '--profile', profile]),
    ]);
    const issued = JSON.parse(issuedOut.stdout) as {
      key: string;
      customerClient: string;
      expiresAt: string;
    };
    expect(issued.key).toMatch(/^\d{8}$/);
    // Its name on the site is not the key: names are listed and logged, the key must not be.
    expect(issued.customerClient).toMatch(/^customer-[0-9a-f]{8}$/);
    expect(issued.customerClient).not.toContain(issued.key);
    // No Jump Client may take a customer client's name (and so its place).
    const squatter = await site.anon.call<{ code: string }>(
      'POST',
      '/api/client/jump-clients/enrol',
      {
        json: {
          name: issued.customerClient,
          token: await enrolmentToken(site.api),
          publicKey: generateEd25519().publicKeyPem,
        },
        auth: 'none',
      },
    );
    expect(squatter.status).toBe(400);
    expect(squatter.body.code).toBe('JUMP_CLIENT_NAME_RESERVED');
    expect(Date.parse(issued.expiresAt)).toBeGreaterThan(Date.now());
    expect(human.stdout).toMatch(/Session key \d{8}, valid once until/);
    expect(human.stdout).toContain('gatehouse customer-client --site');

    // The customer types the key with a space, as it was read out to them.
    const spaced = `${issued.key.slice(0, 4)} ${issued.key.slice(4)}`;
    const customer = spawnCli([
      'customer-client',
      ...toSite,
      '--key',
      spaced,
      '--allow',
      targets.echo,
    ]);
    // Waited for on the site's API (a CLI process per look is slow on a loaded machine); then
    // the console's own listing must show it.
    const connected = async () =>
      (
        await site.api.call<Information>('GET', '/api/login/status/information')
      ).body.connectedClients.some((c) => c.name === issued.customerClient);
    await until(
      connected,
      15_000,
      `the customer client to join (its output: ${customer.output()})`,
    );
    const listed = JSON.parse(
      (await cli(['console', 'jump-clients', '--json', '--profile', profile])).stdout,
    ) as Listed[];
    expect(listed.find((j) => j.name === issued.customerClient)).toMatchObject({
      kind: 'customer-client',
      representative: 'admin',
    });
    expect(customer.output()).toContain(`joined the site as ${issued.customerClient}`);

    // The key worked once.
    const again = spawnCli([
      'customer-client',
      ...toSite,
      '--key',
      issued.key,
      '--allow',
      targets.echo,
    ]);
    // Another representative neither sees nor uses it.
    const othersList = JSON.parse(
      (await cli(['console', 'jump-clients', '--json', '--profile', otherProfile])).stdout,
    ) as Listed[];
    expect(await again.exited).toBe(2);
    expect(again.output()).toContain('SESSION_KEY_WRONG');
    expect(othersList.some((j) => j.name === issued.customerClient)).toBe(false);
    const othersFwd = await forward(issued.customerClient, targets.echo, otherProfile);
    await new Promise<void>((resolve) => {
      const s = net.connect(othersFwd.port, '127.0.0.1', () => s.write('let me in\n'));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    await until(
      () => othersFwd.output().includes('is the customer of another representative'),
      10_000,
      'the other representative to be refused',
    );
    expect(othersFwd.output()).toContain('session not started');

    // Its representative opens a session through it, byte for byte.
    const fwd = await forward(issued.customerClient, targets.echo, profile);
    const local = net.connect(fwd.port, '127.0.0.1');
    const reply = await new Promise<string>((resolve, reject) => {
      local.once('data', (d) => resolve(d.toString()));
      local.on('error', reject);
      local.write('hello from the representative\n');
    });
    expect(reply).toBe('hello from the representative\n');

    // Status > Information lists it as a customer client, with its session, live.
    let info: Information | undefined;
    await until(
      async () => {
        info = (await site.api.call<Information>('GET', '/api/login/status/information')).body;
        return info.connectedClients.some(
          (c) => c.name === issued.customerClient && c.sessions.length === 1,
        );
      },
      10_000,
      'the customer client with its session on Status > Information',
    );
    expect(info!.connectedClients.find((c) => c.name === issued.customerClient)).toMatchObject({
      kind: 'customer-client',
      representative: 'admin',
    });
    local.end();

    // Ctrl-C: the customer leaves, and the site lists it no more.
    customer.child.kill('SIGINT');
    expect(await customer.exited).toBe(0);
    await until(async () => !(await connected()), 10_000, 'the customer client to leave the site');
    expect(
      (
        JSON.parse(
          (await cli(['console', 'jump-clients', '--json', '--profile', profile])).stdout,
        ) as Listed[]
      ).some((j) => j.name === issued.customerClient),
    ).toBe(false);
    const events = (
      await site.api.call<{ items: { action: string; outcome: string }[] }>(
        'GET',
        '/api/login/logs?q=customer&pageSize=100',
      )
    ).body.items;
    expect(
      events.filter((e) => e.action === 'customer-client.joined' && e.outcome === 'denied').length,
    ).toBe(2);
    expect(events.some((e) => e.action === 'session-key.issued')).toBe(true);
    // A real appliance and many CLI processes: 10–30 s alone, up to 3× that on a loaded CI machine.
  }, 120_000);
});
