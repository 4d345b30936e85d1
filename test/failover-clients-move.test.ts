import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { JumpClient } from '../src/clients/jump-client.js';
import type { EventRecord } from '../src/site/events.js';
import {
  establishPair,
  startTestAppliance,
  tempDir,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { enrolmentToken } from './support/jump-clients.js';
import { startTargets } from './support/targets.js';
import { startNatForwarder } from '../src/traffic/nat/forwarder.js';

const KEY = 'clients-move-key-0123456789abcdefghijklm';

/** A connection the gateway refuses for a reason of its own (not a client upgrade): recorded. */
function knock(t: TestAppliance): Promise<void> {
  return new Promise((resolve) => {
    const req = https.request({
      host: t.proc.host,
      port: t.proc.port,
      path: '/client/v1/jump-client',
      rejectUnauthorized: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket' },
    });
    req.on('response', (res) => res.resume().on('end', resolve));
    req.on('error', () => resolve());
    req.end();
  });
}

const refusals = async (t: TestAppliance, since: number) =>
  (
    await t.api.call<{ items: EventRecord[] }>(
      'GET',
      `/api/login/logs?action=client.refused&since=${since}&pageSize=100`,
    )
  ).body.items.map((e) => ({ reason: e.target, count: (e.details as { count: number }).count }));

describe('a primary that becomes the backup sends its clients straight to the new primary (issue 23)', () => {
  it('moves a Jump Client that reached the site at the old primary to its peer once the peer took the role: not one connection refused', async () => {
    const [a, b, targets] = await Promise.all([
      startTestAppliance({ name: 'move-a', interApplianceKey: KEY }),
      startTestAppliance({ name: 'move-b', interApplianceKey: KEY }),
      startTargets(),
    ]);
    expect((await establishPair(a!, b!)).status).toBe(201);
    // The site's name still leads to A (a hosts file, DNS or NAT not switched yet).
    // Clients reach B through a NAT of their own, not at its inter-appliance address (S14).
    const nat = await startNatForwarder({
      listen: { host: '127.0.0.1', port: 0 },
      control: { host: '127.0.0.1', port: 0 },
      dataDir: tempDir('gh-move-nat-'),
      initialTarget: { address: b!.proc.host, port: b!.proc.port },
    });
    const bad = await b!.api.call('PUT', '/api/appliance/network/client-address', {
      json: { host: 'not a host', port: 443 },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('host');
    const set = await b!.api.call('PUT', '/api/appliance/network/client-address', {
      json: { host: nat.listen.host, port: nat.listen.port },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const lines: string[] = [];
    /** The Jump Client's first line after its last move: where it connected, or why not. */
    const afterMove = () => lines[lines.lastIndexOf('disconnected: moved') + 1];
    const jump = new JumpClient({
      site: { host: a!.proc.host, port: a!.proc.port, fingerprint: a!.proc.fingerprint },
      name: 'moving-jump',
      group: 'default',
      token: await enrolmentToken(a!.api),
      allow: [targets.echo],
      log: (line) => lines.push(line),
    });
    try {
      jump.start();
      await until(() => jump.connectedTo === 'move-a', 15_000, 'the Jump Client on move-a');
      // B holds the installation (and A's key) before it takes the role.
      expect((await a!.api.call('POST', '/api/login/failover/sync')).status).toBe(200);
      const from = Date.now();
      const res = await a!.api.call<{ peerInformed: boolean }>(
        'POST',
        '/api/login/failover/become-backup',
        { json: { force: true } },
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.peerInformed).toBe(true);
      await until(() => jump.connectedTo === 'move-b', 15_000, 'the Jump Client on move-b');
      expect(jump.state).toBe('connected');
      // Sent to the address B said clients reach it at, and connected there at the first try.
      expect(afterMove(), lines.join('\n')).toBe(
        `connected to move-b (${nat.listen.host}:${nat.listen.port})`,
      );
      // Knock once at each (refused for a reason of its own): its record comes with any
      // refusal counted before it, so what the site recorded of the move is all in.
      await Promise.all([knock(a!), knock(b!)]);
      const seen = async (t: TestAppliance) =>
        (await refusals(t, from)).some((r) => r.reason === 'UPGRADE_NOT_SUPPORTED');
      await until(async () => (await seen(a!)) && (await seen(b!)), 15_000, 'the knocks');
      expect(await refusals(a!, from)).toEqual([{ reason: 'UPGRADE_NOT_SUPPORTED', count: 1 }]);
      expect(await refusals(b!, from)).toEqual([{ reason: 'UPGRADE_NOT_SUPPORTED', count: 1 }]);
      // B recorded the Jump Client back after its move, as it said.
      const back = await b!.api.call<{ items: EventRecord[] }>(
        'GET',
        `/api/login/logs?action=client.reconnected&since=${from}&pageSize=100`,
      );
      expect(
        back.body.items.map((e) => [e.target, (e.details as { reason: string }).reason]),
      ).toEqual([['moving-jump', 'moved']]);
      // A has no client address: B sends it to A's inter-appliance address (S14).
      const back2 = await b!.api.call('POST', '/api/login/failover/become-backup', {
        json: { force: true },
      });
      expect(back2.status, JSON.stringify(back2.body)).toBe(200);
      await until(() => jump.connectedTo === 'move-a', 15_000, 'the Jump Client back on move-a');
      expect(afterMove(), lines.join('\n')).toBe(
        `connected to move-a (${a!.proc.host}:${a!.proc.port})`,
      );
    } finally {
      await jump.stop();
      await targets.close();
      await nat.close();
    }
  }, 120_000);
});
