import { describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import type { Endpoint } from '../src/clients/tunnel.js';
import { LOGIN_PASSWORD, until, type TestAppliance } from './support/appliance.js';
import { NEXT_VERSION, startPairDeployment } from './support/deployment.js';
import { enrolmentToken } from './support/jump-clients.js';
import { interactive, receiveAll, startSource, type Interactive } from './support/resume-load.js';
import { startTargets } from './support/targets.js';
import { uploadPackage, waitForSoftware } from './support/updates.js';

const COPY_BYTES = Number(process.env.GATEHOUSE_RESUME_COPY_MIB ?? 256) * 1024 * 1024;
const SHARED = '127.0.0.170';

interface Started {
  items: { target: string; details: { part?: number; moves?: number; appliance?: string } }[];
}

/** Echoes go on: `n` more answered, each checked, since now. */
const echoesGoOn = (echo: Interactive, n: number, what: string) => {
  const at = echo.rounds();
  return until(() => echo.rounds() > at + n, 90_000, what);
};

describe('resumable sessions through planned moves of a pair behind a shared address', () => {
  it('a copy and an interactive session survive Become Backup, Become Primary and an install on the relaying appliance, nothing lost', async () => {
    const d = await startPairDeployment({
      a: '127.0.0.171',
      b: '127.0.0.172',
      shared: SHARED,
      key: 'resume-moves-key-0123456789abcdefghijklmn',
    });
    const [a, b] = d.appliances as [TestAppliance, TestAppliance];
    const [targets, first, second] = await Promise.all([
      startTargets(),
      startSource(COPY_BYTES),
      startSource(COPY_BYTES),
    ]);
    const site: Endpoint = {
      host: SHARED,
      port: a.proc.port,
      fingerprint: a.proc.fingerprint,
      alsoTrust: [b.proc.fingerprint],
    };
    const jump = new JumpClient({
      site,
      name: 'moving-db',
      group: 'servers',
      token: await enrolmentToken(a.api),
      allow: [targets.echo, first.address, second.address],
    });
    jump.start();
    const rep = await RepresentativeConsole.signIn(site, 'admin', LOGIN_PASSWORD);
    rep.keepPresence();
    const echoes: Interactive[] = [];
    try {
      await until(
        async () => (await rep.jumpClients()).some((j) => j.name === 'moving-db'),
        15_000,
        'the Jump Client on the site',
      );
      const chat = await rep.openSession('moving-db', targets.echo);
      const echo = interactive(chat.socket);
      echoes.push(echo);
      const copy = await rep.openSession('moving-db', first.address);
      let got = 0;
      const received = receiveAll(copy.socket, (n) => (got = n));
      await until(() => got > COPY_BYTES / 8, 60_000, 'an eighth of the copy');

      // Become Backup: the shared address moves to b; the clients and their sessions follow.
      const role = async (t: TestAppliance, to: 'backup' | 'primary') => {
        const r = await t.api.call('POST', `/api/login/failover/become-${to}`, { json: {} });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      };
      await role(a, 'backup');
      await until(() => jump.connectedTo === 'pair-b', 30_000, 'the Jump Client on pair-b');
      await echoesGoOn(echo, 5, 'the echo to go on through pair-b');
      // And back: the console's kept relay connection may still lead to pair-b, now the backup
      // (a connection outlives the address's release); its legs resume on pair-a all the same.
      await role(a, 'primary');
      await until(() => jump.connectedTo === 'pair-a', 30_000, 'the Jump Client back on pair-a');
      await echoesGoOn(echo, 5, 'the echo to go on through pair-a');
      const [sent, arrived] = await Promise.all([first.sent, received]);
      expect(arrived.error).toBeUndefined();
      expect(arrived.sha256).toBe(sent.sha256);

      // An install on the relaying appliance (the site still leads there: the sessions pause
      // for its restart), under a second copy.
      const copy2 = await rep.openSession('moving-db', second.address);
      let got2 = 0;
      const received2 = receiveAll(copy2.socket, (n) => (got2 = n));
      await until(() => got2 > COPY_BYTES / 8, 60_000, 'an eighth of the second copy');
      const up = await uploadPackage(a.api, `${d.packages}/product-${NEXT_VERSION}.ghpkg`);
      expect(up.status, JSON.stringify(up.body)).toBe(201);
      const installAt = Date.now();
      const install = await a.api.call(
        'POST',
        `/api/appliance/updates/staged/${up.body.id}/install`,
        {
          json: {},
        },
      );
      expect(install.status, JSON.stringify(install.body)).toBe(202);
      await waitForSoftware(a.api, NEXT_VERSION);
      const installMs = Date.now() - installAt;
      await echoesGoOn(echo, 5, 'the echo to go on after the install');
      const [sent2, arrived2] = await Promise.all([second.sent, received2]);
      expect(arrived2.error).toBeUndefined();
      expect(arrived2.sha256).toBe(sent2.sha256);
      expect(echo.problems).toEqual([]);
      console.log(
        `moves: longest echo wait ${echo.longestWaitMs()} ms; install took ${installMs} ms; copies of ${COPY_BYTES / 1048576} MiB intact`,
      );

      // One session id throughout, its parts relayed by both appliances, each counting its moves.
      const parts = async (t: TestAppliance) =>
        (
          await t.api.call<Started>('GET', '/api/login/logs?action=session.started&pageSize=200')
        ).body.items.filter((e) => e.target === chat.session);
      await until(
        async () => (await parts(a)).length + (await parts(b)).length >= 4,
        20_000,
        "the chat's parts on both appliances",
      );
      const all = [...(await parts(a)), ...(await parts(b))];
      expect(new Set(all.map((e) => e.details.appliance))).toEqual(new Set(['pair-a', 'pair-b']));
      expect(Math.max(...all.map((e) => e.details.moves ?? 0))).toBeGreaterThanOrEqual(3);
    } finally {
      for (const e of echoes) e.stop();
      await rep.close();
      await jump.stop();
      await Promise.all([targets.close(), first.close(), second.close()]);
    }
  }, 420_000);
});
