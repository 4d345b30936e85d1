import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { censorNested, createLogger } from './logging.js';
import { until } from './until.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('log lines', () => {
  it('censor secrets at the top, one level down, in headers, in errors and in child bindings', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-log-'));
    dirs.push(dir);
    const file = path.join(dir, 'log', 'app.log');
    const log = createLogger({ name: 'test', file });
    const line = {
      password: 'top-password',
      user: { name: 'ann', token: 'nested-token' },
      peer: { key: 'nested-key', password: 'nested-password' },
      req: { headers: { authorization: 'Bearer header-token', cookie: 'a=cookie-value' } },
      err: Object.assign(new Error('boom'), { token: 'error-token' }),
    };
    log.info(line, 'first');
    log.child({ conn: { token: 'binding-token' } }).info({ ok: true }, 'second');
    const text = await until(() => {
      const t = readFileSync(file, 'utf8');
      return t.includes('"second"') ? t : undefined;
    }, 10_000);

    for (const secret of [
      'top-password',
      'nested-token',
      'nested-key',
      'nested-password',
      'header-token',
      'cookie-value',
      'error-token',
      'binding-token',
    ])
      expect(text).not.toContain(secret);
    const [first, second] = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(first).toMatchObject({
      password: '[redacted]',
      user: { name: 'ann', token: '[redacted]' },
      peer: { key: '[redacted]', password: '[redacted]' },
      req: { headers: { authorization: '[redacted]', cookie: '[redacted]' } },
      err: { type: 'Error', message: 'boom', token: '[redacted]' },
    });
    expect(first.err.stack).toContain('boom');
    expect(second).toMatchObject({ conn: { token: '[redacted]' }, ok: true });
    // The caller's objects are left as they were.
    expect(line.user.token).toBe('nested-token');
    expect(line.err.token).toBe('error-token');
  });

  it('pass a line with nothing to censor through as it is, without copying it', () => {
    const line = { method: 'GET', url: '/api/login/users', status: 200, ms: 3 };
    expect(censorNested(line)).toBe(line);
  });
});
