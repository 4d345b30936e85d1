import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { LOGIN_PASSWORD, tempDir } from './support/appliance.js';
import { NEXT_VERSION, runUpgrade, startPairDeployment } from './support/deployment.js';
import { whoAnswers } from './support/probe.js';
import { cliResult, siteSignIn, type CliSignIn } from './support/cli.js';

const KEY = 'site-identity-key-0123456789abcdefghijklmn';
const SHARED = '127.0.0.210';
const HOSTNAME = `site-identity-${process.pid}.gatehouse.test`;
// The site hostname leads to the shared address, which the primary holds (S19).
const HOSTS_LINE = `${SHARED} ${HOSTNAME}`;
const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

function setHostsLine(present: boolean): void {
  const lines = readFileSync('/etc/hosts', 'utf8')
    .split('\n')
    .filter((l) => l !== HOSTS_LINE && l !== '');
  writeFileSync('/etc/hosts', [...lines, ...(present ? [HOSTS_LINE] : [])].join('\n') + '\n');
}

afterAll(() => setHostsLine(false));

interface Summary {
  appliance: string;
  siteCa: string | null;
}

describe('site identity: clients pin the site certificate authority (S20)', () => {
  it('keeps the same `gatehouse integration export` working by address and by hostname across an asynchronous upgrade, and a console signs in to whichever appliance answers', async () => {
    setHostsLine(true);
    const d = await startPairDeployment({
      a: '127.0.0.211',
      b: '127.0.0.212',
      shared: SHARED,
      key: KEY,
    });
    const [a, b] = d.appliances as [(typeof d.appliances)[0], (typeof d.appliances)[0]];
    const port = a.proc.port;
    const siteCaOf = async (t: typeof a) =>
      (await t.api.call<{ siteCa: string }>('GET', '/api/login/status/information')).body.siteCa;

    // Establishing handed A's authority to B: one site, one identity. Each keeps its own
    // self-signed certificate for everything else (the peers and the orchestrator pin those).
    const siteCa = await siteCaOf(a);
    expect(siteCa).toMatch(FINGERPRINT);
    expect(await siteCaOf(b)).toBe(siteCa);
    expect(siteCa).not.toBe(a.proc.fingerprint);
    const adopted = await b.api.call<{ items: { action: string; target: string }[] }>(
      'GET',
      '/api/login/logs?action=appliance.site-ca-adopted',
    );
    expect(adopted.body.items.map((e) => [e.action, e.target])).toContainEqual([
      'appliance.site-ca-adopted',
      'pair-a',
    ]);

    const root = tempDir('gh-siteid-');
    const exportFrom = async (site: CliSignIn, out: string) => {
      const r = await cliResult(
        ['integration', 'export', ...site.args, '--out', path.join(root, out), '--json'],
        site.env,
      );
      return { ...r, summary: r.code === 0 ? (JSON.parse(r.stdout) as Summary) : undefined };
    };
    // Pinned to the site's authority, or to A's certificate alone; at `host`, A's port.
    const byCa = (host: string) => siteSignIn(a.proc, { host, siteCa });
    const byA = (host: string) => siteSignIn(a.proc, { host });
    const expectFrom = (r: Awaited<ReturnType<typeof exportFrom>>, appliance: string) => {
      expect(r.code, r.stderr).toBe(0);
      expect(r.summary?.appliance).toBe(appliance);
      expect(r.summary?.siteCa).toBe(siteCa);
    };

    // Before: A holds the shared address. The folder pinned to A's certificate learns the CA.
    expectFrom(await exportFrom(byCa(SHARED), 'by-ip'), 'pair-a');
    expectFrom(await exportFrom(byCa(HOSTNAME), 'by-name'), 'pair-a');
    expectFrom(await exportFrom(byA(SHARED), 'pinned-a'), 'pair-a');
    const state = JSON.parse(readFileSync(path.join(root, 'pinned-a', 'state.json'), 'utf8'));
    expect(state.siteCa).toBe(siteCa);
    // A fingerprint that is not the site's authority vouches for nothing.
    const wrongCa = await exportFrom(
      siteSignIn(a.proc, { host: SHARED, siteCa: b.proc.fingerprint }),
      'wrong-ca',
    );
    expect(wrongCa.code).not.toBe(0);
    expect(wrongCa.stderr).toContain('TLS_FINGERPRINT_MISMATCH');
    const noPin = await exportFrom(
      { ...byA(SHARED), args: ['--site', `${SHARED}:${port}`, '--user', 'admin'] },
      'no-pin',
    );
    expect(noPin.code).toBe(2);
    expect(noPin.stderr).toContain('--site-ca');

    // Window 1 of the asynchronous upgrade: B upgraded, the shared address moved to it.
    const w1 = await runUpgrade([
      'run',
      '--inventory',
      d.inventory,
      '--strategy',
      'asynchronous',
      '--packages',
      d.packages,
    ]).done;
    expect(w1.code, w1.out).toBe(0);
    expect(await whoAnswers(SHARED, port)).toBe('pair-b');
    expect(
      (await b.api.call<{ productVersion: string }>('GET', '/health')).body.productVersion,
    ).toBe(NEXT_VERSION);
    expect(await siteCaOf(b)).toBe(siteCa);
    // Between the windows A, whose data the second window overwrites, is marked (S23).
    const mark = await a.api.call<{ upgrade: { by: string } | null }>(
      'GET',
      '/api/appliance/upgrade-in-progress',
    );
    expect(mark.body.upgrade?.by).toBe('gatehouse upgrade');
    const unconfirmed = await a.api.call<{ code: string }>('PATCH', '/api/login/settings', {
      json: { siteName: 'changed on the old primary' },
    });
    expect(unconfirmed.status).toBe(409);
    expect(unconfirmed.body.code).toBe('UPGRADE_CHANGE_NOT_CONFIRMED');

    // The same commands read B now: by address, by hostname, and at B's own address (where a
    // DNS or NAT switch leads); the folder first pinned to A's certificate too.
    expectFrom(await exportFrom(byCa(SHARED), 'by-ip'), 'pair-b');
    expectFrom(await exportFrom(byCa(HOSTNAME), 'by-name'), 'pair-b');
    expectFrom(await exportFrom(byCa(b.proc.host), 'at-b'), 'pair-b');
    expectFrom(await exportFrom(byA(SHARED), 'pinned-a'), 'pair-b');
    // What the issue saw: a client that only ever knew A's certificate is refused by B.
    const onlyA = await exportFrom(byA(SHARED), 'fresh-pinned-a');
    expect(onlyA.code).not.toBe(0);
    expect(onlyA.stderr).toContain('TLS_FINGERPRINT_MISMATCH');

    // A console pinning only the site's authority signs in to whichever appliance answers.
    const rep = await RepresentativeConsole.signIn(
      { host: HOSTNAME, port, fingerprint: '', siteCa },
      'admin',
      LOGIN_PASSWORD,
    );
    try {
      expect(rep.signIn.siteInfo.appliance).toBe('pair-b');
      expect(rep.signIn.site.siteCa).toBe(siteCa);
      expect(Array.isArray(await rep.jumpClients())).toBe(true);
    } finally {
      await rep.close();
    }
  }, 480_000);
});
