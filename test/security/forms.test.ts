import { describe, expect, it } from 'vitest';
import { startTestAppliance } from '../support/appliance.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };

describe('web forms', () => {
  it('refuses a repeated field with a 400 naming it, on both sign-in forms and signed-in forms', async () => {
    const a = await startTestAppliance({ name: 'forms' });
    for (const area of ['appliance', 'login'] as const) {
      const res = await a.anon.call('POST', `/${area}/sign-in`, {
        raw: Buffer.from('username=admin&password=x&password=y'),
        headers: FORM,
      });
      expect(res.status, area).toBe(400);
      expect(String(res.body)).toContain('password: is sent more than once');
    }
    // Over the API the refusal is problem+json naming the field.
    const api = await a.anon.call<{ code: string; errors: { field: string }[] }>(
      'POST',
      '/login/users/new',
      {
        raw: Buffer.from('_csrf=a&_csrf=b'),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
    );
    expect(api.status).toBe(400);
    expect(api.body.code).toBe('FORM_FIELD_REPEATED');
    expect(api.body.errors[0]!.field).toBe('_csrf');
  });
});
