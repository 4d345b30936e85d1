import { describe, expect, it } from 'vitest';
import { freePort } from '../src/lab/processes.js';
import { whoAnswers } from './support/probe.js';
import { startTestAppliance, until } from './support/appliance.js';

const SHARED = '127.0.0.50';

const probe = (port: number) => whoAnswers(SHARED, port);

describe('shared IP (S19): the appliance really binds and releases it', () => {
  it('moves the shared address from A to B while a client probes it', async () => {
    const port = await freePort('127.0.0.31');
    const a = await startTestAppliance({ name: 'shared-a', host: '127.0.0.31', port });
    const b = await startTestAppliance({ name: 'shared-b', host: '127.0.0.32', port });
    expect(
      (
        await a.api.call('POST', '/api/appliance/network/addresses', {
          json: { address: SHARED, kind: 'shared', enabled: true },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await b.api.call('POST', '/api/appliance/network/addresses', {
          json: { address: SHARED, kind: 'shared', enabled: false },
        })
      ).status,
    ).toBe(201);
    await until(
      async () => (await probe(port)) === 'shared-a',
      5_000,
      'A to answer on the shared address',
    );

    // B cannot take it while A holds it: refused with the reason, and left disabled.
    const early = await b.api.call<{ code: string; detail: string }>(
      'PATCH',
      `/api/appliance/network/addresses/${SHARED}`,
      { json: { enabled: true } },
    );
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('SHARED_ADDRESS_UNAVAILABLE');
    expect(early.body.detail).toMatch(/still held by another process/);
    const onB = await b.api.call<{ addresses: { address: string; enabled: boolean }[] }>(
      'GET',
      '/api/appliance/network/addresses',
    );
    expect(onB.body.addresses.find((x) => x.address === SHARED)?.enabled).toBe(false);

    // Probe every 20 ms through the switch.
    const seen: string[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        seen.push(await probe(port));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = Date.now();
    expect(
      (
        await a.api.call('PATCH', `/api/appliance/network/addresses/${SHARED}`, {
          json: { enabled: false },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await b.api.call('PATCH', `/api/appliance/network/addresses/${SHARED}`, {
          json: { enabled: true },
        })
      ).status,
    ).toBe(200);
    await until(() => seen.at(-1) === 'shared-b', 5_000, 'B to answer on the shared address');
    const switchMs = Date.now() - t0;
    probing = false;
    await prober;
    const first = seen.indexOf('shared-b');
    expect(seen.slice(first).every((n) => n === 'shared-b')).toBe(true);
    expect(seen.slice(0, first).filter((n) => n !== 'shared-a').length).toBeLessThanOrEqual(3);
    expect(switchMs).toBeLessThan(3_000);
  });
});
