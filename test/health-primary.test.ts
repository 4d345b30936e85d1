import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/lab/processes.js';
import {
  establishPair,
  startTestAppliance,
  tempDir,
  until,
  type TestAppliance,
} from './support/appliance.js';

const KEY = 'health-primary-key-0123456789abcdefghijk';
const HAPROXY = process.env.GATEHOUSE_HAPROXY ?? '/usr/sbin/haproxy';

/** GET over TLS, the certificate not checked (through HAProxy it is either appliance's). */
function get(host: string, port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host, port, path: p, rejectUnauthorized: false, timeout: 3_000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const nameBehind = async (host: string, port: number) => {
  try {
    return (JSON.parse((await get(host, port, '/health')).body) as { name: string }).name;
  } catch {
    return undefined;
  }
};

let haproxy: ChildProcess | undefined;
afterAll(() => {
  haproxy?.kill('SIGKILL');
});

describe('GET /health/primary: a load balancer as a traffic switch', () => {
  it('answers 200 on the primary only, so a real HAProxy in front of the pair follows a role switch', async () => {
    const [a, b] = await Promise.all([
      startTestAppliance({ name: 'hp-a', host: '127.0.0.150', interApplianceKey: KEY }),
      startTestAppliance({ name: 'hp-b', host: '127.0.0.151', interApplianceKey: KEY }),
    ]);
    const status = async (t: TestAppliance, p: string) =>
      (await get(t.proc.host, t.proc.port, p)).status;
    // Standalone, each serves its own clients: each is "primary" for a load balancer.
    expect(await status(a, '/health/primary')).toBe(200);
    expect(await status(b, '/health/backup')).toBe(503);
    expect((await establishPair(a, b)).status).toBe(201);
    expect([await status(a, '/health/primary'), await status(b, '/health/primary')]).toEqual([
      200, 503,
    ]);
    expect([await status(a, '/health/backup'), await status(b, '/health/backup')]).toEqual([
      503, 200,
    ]);

    // The configuration docs/failover.md shows, on loopback: TLS passes through untouched.
    const dir = tempDir('gh-haproxy-');
    const front = await freePort('127.0.0.152');
    const cfg = path.join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      `global
  log stderr format raw local0
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend site
  bind 127.0.0.152:${front}
  default_backend appliances
backend appliances
  option httpchk GET /health/primary
  http-check expect status 200
  default-server check check-ssl verify none inter 250ms fall 2 rise 1 on-marked-down shutdown-sessions
  server hp-a ${a.proc.host}:${a.proc.port}
  server hp-b ${b.proc.host}:${b.proc.port}
`,
    );
    haproxy = spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    await until(
      async () => (await nameBehind('127.0.0.152', front)) === 'hp-a',
      15_000,
      'HAProxy to send the site to hp-a',
    );

    expect(
      (await a.api.call('POST', '/api/login/failover/become-backup', { json: {} })).status,
    ).toBe(200);
    await until(
      async () => (await nameBehind('127.0.0.152', front)) === 'hp-b',
      15_000,
      'HAProxy to follow the role switch to hp-b',
    );
    // Every new connection goes to the new primary only.
    for (let i = 0; i < 5; i++) expect(await nameBehind('127.0.0.152', front)).toBe('hp-b');
  });
});
