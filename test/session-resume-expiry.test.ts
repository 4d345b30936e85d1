import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JumpClient } from '../src/clients/jump-client.js';
import { freePort } from '../src/lab/processes.js';
import { startTestAppliance, tempDir, until } from './support/appliance.js';
import { cli, siteSignIn, spawnCli } from './support/cli.js';
import { enrolmentToken } from './support/jump-clients.js';
import { interactive } from './support/resume-load.js';
import { startTargets } from './support/targets.js';

const KEY = 'resume-expiry-inter-appliance-key-012345678';
const WINDOW = /The session ended: the other side did not come back within 3 s\./;

interface Logged {
  items: { target: string; outcome: string; details: { reason?: string } }[];
}

describe('a resumable session whose resume window passes', () => {
  it('ends cleanly: both clients show why, the late one at once, and the site logs it', async () => {
    const site = await startTestAppliance({
      name: 'expiry-site',
      interApplianceKey: KEY,
      env: { GATEHOUSE_RESUME_WINDOW_MS: '3000' },
    });
    const targets = await startTargets();
    const endpoint = {
      host: site.proc.host,
      port: site.proc.port,
      fingerprint: site.proc.fingerprint,
    };
    const jumpLog: string[] = [];
    const jump = new JumpClient({
      site: endpoint,
      name: 'expiry-db',
      group: 'servers',
      token: await enrolmentToken(site.api),
      allow: [targets.echo],
      log: (line) => jumpLog.push(line),
    });
    jump.start();
    // The console is a process of its own, so that it can be frozen while the Jump Client comes back.
    const profile = path.join(tempDir('gh-expiry-'), 'console.json');
    const admin = siteSignIn(site.proc);
    await cli(['console', 'sign-in', ...admin.args, '--profile', profile], admin.env);
    const port = await freePort('127.0.0.1');
    const forward = spawnCli([
      'console',
      'connect',
      '--jump-client',
      'expiry-db',
      '--target',
      targets.echo,
      '--listen',
      `127.0.0.1:${port}`,
      '--profile',
      profile,
    ]);
    try {
      await until(() => jump.state === 'connected', 15_000, 'the Jump Client');
      await until(() => forward.output().includes('listening on'), 30_000, 'console connect');
      const local = net.connect(port, '127.0.0.1');
      local.on('error', () => undefined);
      const echo = interactive(local);
      await until(() => echo.rounds() > 3, 20_000, 'the session to run');
      const session = /session ([0-9a-f-]{36}) started/.exec(forward.output())![1]!;

      // The console freezes; the appliance under the session is killed. The Jump Client comes
      // back and waits for the console, which does not come back within the window (3 s).
      forward.child.kill('SIGSTOP');
      await site.crashAndRestart();
      await until(
        () => jumpLog.some((l) => l.startsWith(`session ${session} ended:`)),
        30_000,
        'the Jump Client to be told the session ended',
      );
      expect(jumpLog.find((l) => l.startsWith(`session ${session} ended:`))).toMatch(WINDOW);

      // The console, back late, is told why at once (not after a window of its own, which
      // would log the session's end a second time).
      forward.child.kill('SIGCONT');
      await until(
        () => forward.output().includes(`session ${session} ended: `),
        30_000,
        'the console to be told the session ended',
      );
      const said = forward
        .output()
        .split('\n')
        .find((l) => l.includes(`session ${session} ended: `));
      expect(said).toMatch(WINDOW);
      echo.stop();

      const logged = await site.api.call<Logged>(
        'GET',
        '/api/login/logs?action=session.resume.expired&pageSize=20',
      );
      const entries = logged.body.items.filter((e) => e.target === session);
      expect(entries).toHaveLength(1);
      const entry = entries[0];
      expect(entry?.details.reason).toBe('the other side did not come back within 3 s');
      expect(entry?.outcome).toBe('failed');
    } finally {
      forward.child.kill('SIGCONT');
      forward.child.kill('SIGKILL');
      await jump.stop();
      await targets.close();
    }
  }, 120_000);
});
