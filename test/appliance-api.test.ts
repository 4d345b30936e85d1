import { describe, expect, it } from 'vitest';
import { startTestAppliance } from './support/appliance.js';

describe('appliance API', () => {
  it('answers /health without a session, with name, role, versions and readiness', async () => {
    const t = await startTestAppliance({ name: 'appliance-health' });
    const res = await t.anon.call<Record<string, unknown>>('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'appliance-health', role: 'standalone', ready: true });
    expect(res.body.productVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(res.body.baseVersion).toMatch(/^\d+\.\d+\.\d+/);
  });
});
