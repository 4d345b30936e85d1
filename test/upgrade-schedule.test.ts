import { describe, expect, it } from 'vitest';
import { until } from './support/appliance.js';
import { runUpgrade, startPairDeployment } from './support/deployment.js';

const SWITCHOVER = '/api/login/failover/scheduled-switchover';

describe('gatehouse upgrade continue --at: a scheduled second window', () => {
  it('refuses bad times, shows and cancels a scheduled window, and starts one at its time', async () => {
    const d = await startPairDeployment({
      a: '127.0.0.221',
      b: '127.0.0.222',
      shared: '127.0.0.220',
      key: 'upgrade-schedule-key-0123456789abcdefghij',
    });
    const common = ['--inventory', d.inventory];
    const w1 = await runUpgrade([
      'run',
      ...common,
      '--strategy',
      'asynchronous',
      '--packages',
      d.packages,
    ]).done;
    expect(w1.code, w1.out).toBe(0);

    for (const [at, says] of [
      ['tonight', 'is not a time'],
      ['2026-12-07T22:00:00', 'has no time zone'],
      ['2001-01-01T00:00:00Z', 'is in the past'],
    ] as const) {
      const bad = await runUpgrade(['continue', ...common, '--at', at]).done;
      expect(bad.code).toBe(2);
      expect(bad.out).toContain('--at');
      expect(bad.out).toContain(says);
    }

    // Scheduled an hour ahead: status shows it; cancel ends the waiting process, nothing run.
    const later = new Date(Date.now() + 3600_000).toISOString();
    const waiting = runUpgrade(['continue', ...common, '--at', later]);
    await until(
      async () => (await runUpgrade(['status', ...common]).done).out.includes(later),
      30_000,
      'status to show the scheduled window',
    );
    const cancel = await runUpgrade(['cancel', ...common]).done;
    expect(cancel.code, cancel.out).toBe(0);
    const cancelled = await waiting.done;
    expect(cancelled.code).toBe(0);
    expect(cancelled.out).toContain('cancelled; nothing was run');
    expect((await runUpgrade(['status', ...common]).done).out).toContain('Scheduled: nothing');

    // A few seconds ahead: it waits, then runs the second window to the end.
    const soon = new Date(Date.now() + 5_000).toISOString();
    const w2 = await runUpgrade(['continue', ...common, '--at', soon]).done;
    expect(w2.code, w2.out).toBe(0);
    expect(w2.out).toContain(`Scheduled: \`gatehouse upgrade continue\` at ${soon}`);
    const status = await runUpgrade(['status', ...common, '--json']).done;
    expect(JSON.parse(status.out)).toMatchObject({
      state: 'finished',
      scheduled: null,
      switchovers: [],
    });

    // A planned switchover scheduled on the backup shows in status until it is cancelled.
    const roles = await Promise.all(
      d.appliances.map(
        async (t) => (await t.api.call<{ role: string }>('GET', '/api/login/failover')).body.role,
      ),
    );
    const backup = d.appliances[roles.indexOf('backup')]!;
    const name = backup === d.appliances[0] ? 'pair-a' : 'pair-b';
    const at = new Date(Date.now() + 3600_000).toISOString();
    const put = await backup.api.call('PUT', SWITCHOVER, { json: { at } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const shown = await runUpgrade(['status', ...common]).done;
    expect(shown.out).toContain(`Scheduled switchover: ${name} becomes primary at ${at}`);
    expect(shown.out).toContain(`DELETE ${SWITCHOVER} on ${name}`);
    const json = JSON.parse((await runUpgrade(['status', ...common, '--json']).done).out);
    expect(json.switchovers).toMatchObject([{ appliance: name, scheduled: { at } }]);
    expect((await backup.api.call('DELETE', SWITCHOVER)).status).toBe(200);
    const after = await runUpgrade(['status', ...common]).done;
    expect(after.out).toContain('Scheduled switchovers: none');
    expect(after.out).not.toContain('becomes primary');
  }, 400_000);
});
