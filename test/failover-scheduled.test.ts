import { describe, expect, it } from 'vitest';
import {
  establishPair,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';

const KEY = 'failover-scheduled-key-0123456789abcdefghij';
const PATH = '/api/login/failover/scheduled-switchover';

interface Scheduled {
  at: string;
  scheduledBy: string;
}
interface FailoverView {
  role: string;
  scheduledSwitchover: Scheduled | null;
}
interface LogEvent {
  ts: number;
  outcome: string;
  details: Record<string, unknown>;
}

const failoverOf = async (t: TestAppliance) =>
  (await t.api.call<FailoverView>('GET', '/api/login/failover')).body;
const schedule = (t: TestAppliance, at: unknown) =>
  t.api.call<Scheduled & { code?: string }>('PUT', PATH, { json: { at } });
const eventsOf = async (t: TestAppliance, action: string) =>
  (await t.api.call<{ items: LogEvent[] }>('GET', `/api/login/logs?action=${action}`)).body.items;
const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

describe('a scheduled planned switchover (as patronictl switchover --scheduled)', () => {
  it('refuses bad input, drops one missed while down, cancels, and performs one at its time', async () => {
    const [a, b] = await Promise.all([
      startTestAppliance({ name: 'sw-a', host: '127.0.0.190', interApplianceKey: KEY }),
      startTestAppliance({ name: 'sw-b', host: '127.0.0.191', interApplianceKey: KEY }),
    ]);
    expect((await schedule(b, inSeconds(60))).body).toMatchObject({ code: 'FAILOVER_NOT_PAIRED' });
    expect((await establishPair(a, b)).status).toBe(201);

    // Refused, and nothing scheduled: on the primary, and bad or missing times on the backup.
    const onPrimary = await schedule(a, inSeconds(60));
    expect(onPrimary.status).toBe(409);
    expect(onPrimary.body).toMatchObject({ code: 'FAILOVER_SCHEDULE_NOT_BACKUP' });
    for (const [at, message] of [
      ['tomorrow', 'is not a time'],
      ['2026-12-07T22:00:00', 'has no time zone'],
      ['2001-01-01T00:00:00Z', 'is in the past'],
      [undefined, 'is required'],
    ] as const) {
      const refused = await schedule(b, at);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(JSON.stringify(refused.body)).toContain(message);
      expect(JSON.stringify(refused.body)).toContain('"field":"at"');
    }
    expect((await failoverOf(a)).scheduledSwitchover).toBeNull();
    expect((await failoverOf(b)).scheduledSwitchover).toBeNull();

    // Kept across a restart; its time passed while the appliance was down: dropped, not run late.
    const missed = await schedule(b, inSeconds(2));
    expect(missed.status).toBe(200);
    expect((await failoverOf(b)).scheduledSwitchover).toMatchObject({ at: missed.body.at });
    await b.restart(async () => {
      await until(() => Date.now() > Date.parse(missed.body.at) + 500, 10_000, 'the time to pass');
    });
    await until(
      async () => (await eventsOf(b, 'failover.switchover-missed')).length === 1,
      20_000,
      'the missed switchover logged',
    );
    expect((await eventsOf(b, 'failover.switchover-missed'))[0]!.details).toMatchObject({
      at: missed.body.at,
    });
    expect(await failoverOf(b)).toMatchObject({ role: 'backup', scheduledSwitchover: null });

    // Scheduled, shown, refused a second time, cancelled: nothing happens at its time.
    const cancelled = await schedule(b, inSeconds(5));
    expect(cancelled.status).toBe(200);
    expect((await failoverOf(b)).scheduledSwitchover).toMatchObject({ at: cancelled.body.at });
    const again = await schedule(b, inSeconds(30));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'FAILOVER_SWITCHOVER_SCHEDULED' });
    const cancel = await b.api.call<Scheduled>('DELETE', PATH);
    expect(cancel.status).toBe(200);
    expect(cancel.body.at).toBe(cancelled.body.at);
    expect((await b.api.call('DELETE', PATH)).body).toMatchObject({
      code: 'FAILOVER_NOTHING_SCHEDULED',
    });
    expect((await failoverOf(b)).scheduledSwitchover).toBeNull();
    expect(await eventsOf(b, 'failover.switchover-cancelled')).toHaveLength(1);

    // Scheduled after the cancelled one's time: the backup becomes primary then, not before.
    const at = new Date(Math.max(Date.parse(cancelled.body.at) + 2_000, Date.now() + 4_000));
    const planned = await schedule(b, at.toISOString());
    expect(planned.status).toBe(200);
    const page = await b.anon.call<string>('GET', '/login/failover', {
      headers: { accept: 'text/html', cookie: `__Host-gh-login=${b.api.tokenFor('login')!}` },
    });
    expect(page.body).toContain(`Become Primary at ${planned.body.at}`);
    await until(async () => (await failoverOf(b)).role === 'primary', 30_000, 'B to be primary');
    await until(async () => (await failoverOf(a)).role === 'backup', 15_000, 'A to step down');
    const [became] = await eventsOf(b, 'failover.became-primary');
    expect(became!.ts).toBeGreaterThanOrEqual(at.getTime());
    const started = await eventsOf(b, 'failover.switchover-started');
    expect(started.map((e) => e.details.at)).toEqual([planned.body.at]);
    await until(
      async () => (await eventsOf(b, 'failover.switchover-performed')).length === 1,
      10_000,
      'the result logged',
    );
    const [performed] = await eventsOf(b, 'failover.switchover-performed');
    expect(performed).toMatchObject({ outcome: 'ok', details: { changed: true, role: 'primary' } });
    expect((await failoverOf(b)).scheduledSwitchover).toBeNull();
  }, 90_000);
});
