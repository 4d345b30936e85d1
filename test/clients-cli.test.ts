import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/lab/processes.js';
import { startTestAppliance, tempDir, until } from './support/appliance.js';
import { startTargets } from './support/targets.js';
import { cli, siteArgs, siteSignIn, spawnCli } from './support/cli.js';
import { enrolmentToken } from './support/jump-clients.js';

interface ConnectedClients {
  connectedClients: { name: string }[];
}

describe('gatehouse jump-client and gatehouse console (real processes)', () => {
  it('signs in, lists the Jump Client, forwards a port through a session and replays it', async () => {
    const [site, targets] = await Promise.all([
      startTestAppliance({ name: 'cli-site' }),
      startTargets(),
    ]);
    const token = await enrolmentToken(site.api);
    const admin = siteSignIn(site.proc);
    const profile = path.join(tempDir(), 'console.json');

    const jump = spawnCli(
      [
        'jump-client',
        ...siteArgs(site.proc),
        '--name',
        'cli-jump',
        '--group',
        'lab',
        '--allow',
        targets.echo,
        '--identity',
        path.join(tempDir(), 'cli-jump.json'),
      ],
      { GATEHOUSE_JUMP_CLIENT_TOKEN: token },
    );
    const signIn = await cli(
      ['console', 'sign-in', ...admin.args, '--profile', profile],
      admin.env,
    );
    expect(signIn.stdout).toMatch(/Signed in to .* as admin/);
    // Waited for on the site's API (a CLI process per look made this file slow on a
    // loaded machine); then the console's own listing must show it.
    await until(
      async () =>
        (
          await site.api.call<ConnectedClients>('GET', '/api/login/status/information')
        ).body.connectedClients.some((c) => c.name === 'cli-jump'),
      15_000,
      `the Jump Client to connect (its output: ${jump.output()})`,
    );
    const listed = JSON.parse(
      (await cli(['console', 'jump-clients', '--json', '--profile', profile])).stdout,
    ) as { name: string; group: string }[];
    expect(listed.find((j) => j.name === 'cli-jump')?.group).toBe('lab');

    const port = await freePort('127.0.0.1');
    const fwd = spawnCli(
      [
        'console',
        'connect',
        '--jump-client',
        'cli-jump',
        '--target',
        targets.echo,
        '--listen',
        `127.0.0.1:${port}`,
        '--profile',
        profile,
      ],
      {},
    );
    await until(() => fwd.output().includes('listening on'), 15_000, 'console connect to listen');
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('ping through the site\n'));
      s.on('data', (d) => {
        resolve(d.toString());
        s.end();
      });
      s.on('error', reject);
    });
    expect(reply).toBe('ping through the site\n');
    await until(
      () => /session [0-9a-f-]{36} ended/.test(fwd.output()),
      10_000,
      'the session to end',
    );
    const session = /session ([0-9a-f-]{36}) started/.exec(fwd.output())![1]!;
    await until(
      async () =>
        (
          await site.api.call<{ sessions: { id: string }[] }>('GET', '/api/login/sessions')
        ).body.sessions.some((s) => s.id === session),
      10_000,
      'the session record',
    );

    // Independent commands, run at once: each is a process start on a machine that may be busy.
    const [replay, raw, aboutOut] = await Promise.all([
      cli(['console', 'replay', '--session', session, '--profile', profile]),
      cli([
        'console',
        'replay',
        '--session',
        session,
        '--raw',
        'from-target',
        '--profile',
        profile,
      ]),
      cli(['console', 'about', '--json', '--profile', profile]),
      // Bad input: a clear error naming the flag, exit code 2.
      expect(cli(['console', 'replay', '--profile', profile])).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringContaining('--session'),
      }),
      expect(
        cli(['jump-client', ...siteArgs(site.proc), '--name', 'x', '--allow', 'not-a-target'], {
          GATEHOUSE_JUMP_CLIENT_TOKEN: token,
        }),
      ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--allow') }),
    ]);
    expect(replay.stdout).toContain(`Session ${session}`);
    expect(replay.stdout).toContain('"ping through the site\\n"');
    expect(raw.stdout).toBe('ping through the site\n');
    const about = JSON.parse(aboutOut.stdout);
    expect(about.site.version).toBe(about.console);
    await targets.close();
    // A real appliance and many CLI processes: 10–30 s alone, up to 3× that on a loaded CI machine.
  }, 120_000);
});
