import { describe, expect, it } from 'vitest';
import { JumpClient } from '../src/clients/jump-client.js';
import { openTunnel } from '../src/clients/tunnel.js';
import { summarise } from '../src/orchestrator/site-records.js';
import { GATEWAY_PATHS } from '../src/sessions/protocol.js';
import type { EventRecord } from '../src/site/events.js';
import { startTestAppliance, until } from './support/appliance.js';
import { enrolmentToken } from './support/jump-clients.js';
import { startTargets } from './support/targets.js';

describe("the site's records of what its clients went through (issue 23 point 1)", () => {
  it('records a client back after a disconnection with its length and cause, and refused connections by reason with their count; the report sums them', async () => {
    const [t, targets] = await Promise.all([
      startTestAppliance({ name: 'records-site' }),
      startTargets(),
    ]);
    const site = { host: t.proc.host, port: t.proc.port, fingerprint: t.proc.fingerprint };
    const jump = new JumpClient({
      site,
      name: 'records-jump',
      group: 'default',
      token: await enrolmentToken(t.api),
      allow: [targets.echo],
    });
    try {
      jump.start();
      await until(() => jump.state === 'connected', 15_000, 'the Jump Client to connect');
      const from = Date.now();
      // Sent to the site (as after a traffic switch): it leaves, comes back, and says how long.
      const asked = await t.api.call<{ asked: number }>(
        'POST',
        '/api/login/status/clients/reconnect',
      );
      expect(asked.body.asked).toBeGreaterThan(0);
      await until(() => jump.reconnections.count === 1, 20_000, 'the Jump Client to come back');
      // Three connections refused for a forged ticket: one record, counted three.
      for (let i = 0; i < 3; i++)
        await expect(
          openTunnel(site, GATEWAY_PATHS.jumpClient, 'forged-ticket'),
        ).rejects.toBeDefined();
      const events = async (action: string) =>
        (
          await t.api.call<{ items: EventRecord[] }>(
            'GET',
            `/api/login/logs?action=${action}&since=${from}&pageSize=100`,
          )
        ).body.items;
      await until(
        async () => (await events('client.refused')).length > 0,
        15_000,
        'the refusals to be written',
      );
      const [back] = await events('client.reconnected');
      expect(back).toMatchObject({ target: 'records-jump', details: { kind: 'jump-client' } });
      const downMs = (back!.details as { downMs: number }).downMs;
      expect(downMs).toBeGreaterThanOrEqual(0);
      expect(downMs).toBeLessThanOrEqual(jump.reconnections.downMs);
      const refused = await events('client.refused');
      expect(refused.reduce((n, e) => n + (e.details as { count: number }).count, 0)).toBe(3);

      // The report's sum of the same records, as the orchestrator makes it.
      const all = [...(await events('client.reconnected')), ...refused];
      const sum = summarise(all, { from, to: Date.now(), read: ['records-site'], unread: [] });
      expect(sum.reconnections).toMatchObject({ total: 1, totalDownMs: downMs });
      expect(sum.refused.total).toBe(3);
      expect(Object.values(sum.refused.byReason)).toEqual([3]);
      expect(sum.events.map((e) => e.bad)).toEqual([false, true]);
    } finally {
      await jump.stop();
      await targets.close();
    }
  }, 90_000);
});
