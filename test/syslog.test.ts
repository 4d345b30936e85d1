import { beforeAll, describe, expect, it } from 'vitest';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { adminSignIn, cli } from './support/cli.js';
import { makeTestCa, startRsyslog, type Rsyslog } from './support/rsyslog.js';

interface Problem {
  code: string;
  errors?: { field: string; message: string }[];
}
interface SyslogState {
  status: { connected: boolean; queued: number; lastError: string | null } | null;
}

/** One RFC 5424 message: header fields, the gatehouse structured data, the text. */
interface Parsed {
  pri: number;
  timestamp: string;
  hostname: string;
  app: string;
  msgid: string;
  sd: Record<string, string>;
  text: string;
}
const RFC5424 =
  /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+) (\d+) (\S+) \[gatehouse@32473((?: \w+="(?:[^"\\\]]|\\.)*")+)\] \ufeff(.*)$/;
function parse(line: string): Parsed {
  const m = RFC5424.exec(line);
  if (!m) throw new Error(`not an RFC 5424 message of Gatehouse: ${line}`);
  const sd: Record<string, string> = {};
  for (const p of m[7]!.matchAll(/(\w+)="((?:[^"\\\]]|\\.)*)"/g))
    sd[p[1]!] = p[2]!.replace(/\\(["\\\]])/g, '$1');
  return {
    pri: Number(m[1]),
    timestamp: m[2]!,
    hostname: m[3]!,
    app: m[4]!,
    msgid: m[6]!,
    sd,
    text: m[8]!,
  };
}

let t: TestAppliance;
let rsyslog: Rsyslog;
const received = () => rsyslog.lines().map(parse);
const state = async () =>
  (await t.api.call<SyslogState>('GET', '/api/login/management/syslog')).body.status!;

beforeAll(async () => {
  [t, rsyslog] = await Promise.all([startTestAppliance({ name: 'syslog-a' }), startRsyslog()]);
});

describe('syslog forwarding to a real rsyslog over TLS', () => {
  it('refuses a configuration without one way to trust the collector, naming the field', async () => {
    const both = await t.api.call<Problem>('PUT', '/api/login/management/syslog', {
      json: {
        enabled: true,
        host: '127.0.0.1',
        port: rsyslog.port,
        caPem: rsyslog.certPem,
        fingerprint: rsyslog.fingerprint,
      },
    });
    expect(both.status).toBe(400);
    expect(both.body.errors?.map((e) => e.field)).toEqual(['fingerprint']);
    const badHost = await t.api.call<Problem>('PUT', '/api/login/management/syslog', {
      json: { enabled: true, host: 'not a host', port: 70000, fingerprint: rsyslog.fingerprint },
    });
    expect(badHost.status).toBe(400);
    expect(badHost.body.errors?.map((e) => e.field).sort()).toEqual(['host', 'port']);
    expect(
      (await t.api.call<{ config: unknown }>('GET', '/api/login/management/syslog')).body.config,
    ).toBeNull();
  });

  it('sends nothing to a collector whose certificate is not the pinned one', async () => {
    const wrong = 'AB:'.repeat(31) + 'AB';
    const res = await t.api.call('PUT', '/api/login/management/syslog', {
      json: { enabled: true, host: '127.0.0.1', port: rsyslog.port, fingerprint: wrong },
    });
    expect(res.status).toBe(200);
    await until(
      async () => (await state()).lastError?.includes('not the pinned'),
      15_000,
      'the pin refused',
    );
    expect((await state()).queued).toBeGreaterThan(0);
    expect(rsyslog.lines()).toEqual([]);
  });

  it('delivers a sign-in and a configuration change as RFC 5424 with the right fields, without secrets', async () => {
    // Configured from the command line, pinned to rsyslog's certificate.
    const admin = adminSignIn(t.proc, 'login');
    await cli(
      [
        'syslog',
        'set',
        ...admin.args,
        '--host',
        '127.0.0.1',
        '--port',
        String(rsyslog.port),
        '--collector-fingerprint',
        rsyslog.fingerprint,
      ],
      admin.env,
    );
    const wrongPassword = 'Not-The-Password-77';
    const denied = await t.anon.call('POST', '/api/login/session', {
      json: { username: 'admin', password: wrongPassword },
    });
    expect(denied.status).toBe(401);
    await t.api.signIn('login', 'admin', LOGIN_PASSWORD);
    await t.api.call('PATCH', '/api/login/settings', {
      json: { loginBanner: 'Authorised use "only"' },
    });

    const messages = await until(
      () => {
        const all = received();
        return all.some((m) => m.msgid === 'settings.updated') ? all : undefined;
      },
      20_000,
      'the configuration change at rsyslog',
    );
    const signIns = messages.filter((m) => m.msgid === 'auth.login');
    const ok = signIns.find((m) => m.sd.outcome === 'ok')!;
    const bad = signIns.find((m) => m.sd.outcome === 'denied')!;
    expect(ok).toMatchObject({ hostname: 'syslog-a', app: 'gatehouse', pri: 13 * 8 + 5 });
    expect(ok.sd).toMatchObject({ area: 'login', actor: 'admin', outcome: 'ok' });
    expect(bad.pri).toBe(13 * 8 + 4);
    expect(Math.abs(Date.parse(ok.timestamp) - Date.now())).toBeLessThan(60_000);
    const change = messages.find((m) => m.msgid === 'settings.updated')!;
    expect(change.sd).toMatchObject({ area: 'login', actor: 'admin', target: 'site' });
    expect(change.text).toContain('loginBanner');
    expect(change.text).toContain('Authorised use \\"only\\"');
    const raw = rsyslog.lines().join('\n');
    expect(raw).not.toContain(LOGIN_PASSWORD);
    expect(raw).not.toContain(wrongPassword);
  });

  it('keeps messages on disk while rsyslog is down, then delivers every one once, in order', async () => {
    await rsyslog.stop();
    await until(
      async () => !(await state()).connected,
      15_000,
      'the forwarder to see rsyslog gone',
    );
    for (let i = 0; i < 12; i++)
      await t.api.call('PATCH', '/api/login/settings', { json: { loginBanner: `banner ${i}` } });
    await until(async () => (await state()).queued >= 12, 10_000, '12 messages waiting');
    await rsyslog.start();
    await until(async () => (await state()).queued === 0, 30_000, 'the spool to drain');

    // Every event this appliance recorded since forwarding was first configured, oldest first.
    const log = (
      await t.api.call<{ items: { id: string; action: string }[] }>(
        'GET',
        '/api/login/logs?pageSize=500',
      )
    ).body.items.reverse();
    const first = log.findIndex((e) => e.action === 'syslog.configured');
    const expected = log.slice(first).map((e) => e.id);
    const got = await until(
      () => {
        const ids = received().map((m) => m.sd.id!);
        return ids.length >= expected.length ? ids : undefined;
      },
      15_000,
      'every event at rsyslog',
    );
    expect(got).toEqual(expected);
    const banners = received()
      .filter((m) => m.msgid === 'settings.updated')
      .map((m) => /"to":"(banner \d+)"/.exec(m.text)?.[1])
      .filter(Boolean);
    expect(banners).toEqual(Array.from({ length: 12 }, (_, i) => `banner ${i}`));
  });
});

describe('syslog forwarding trusting a CA instead of a pin', () => {
  it('delivers to a collector the CA signed and refuses one another CA signed', async () => {
    const ca = makeTestCa('gatehouse-test-ca');
    const otherCa = makeTestCa('another-test-ca');
    const [signed, stranger] = await Promise.all([
      startRsyslog(ca.collector),
      startRsyslog(otherCa.collector),
    ]);
    const configure = (port: number) =>
      t.api.call('PUT', '/api/login/management/syslog', {
        json: { enabled: true, host: '127.0.0.1', port, caPem: ca.caPem },
      });

    expect((await configure(stranger.port)).status).toBe(200);
    await until(
      async () => /certificate/i.test((await state()).lastError ?? ''),
      15_000,
      'the collector of another CA refused',
    );
    await t.api.call('PATCH', '/api/login/settings', { json: { loginBanner: 'via the CA' } });
    expect((await state()).queued).toBeGreaterThan(0);
    expect(stranger.lines()).toEqual([]);

    expect((await configure(signed.port)).status).toBe(200);
    const arrived = await until(
      () =>
        signed
          .lines()
          .map(parse)
          .find((m) => m.text.includes('via the CA')),
      20_000,
      'the message at the collector the CA signed',
    );
    expect(arrived.msgid).toBe('settings.updated');
    expect(stranger.lines()).toEqual([]);
  });
});
