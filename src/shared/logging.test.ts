import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { censorNested, createLogger } from './logging.js';
import { until } from './until.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The lines `write` logs, read back from the log file, parsed. */
async function loggedLines(write: (log: Logger) => void) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-log-'));
  dirs.push(dir);
  const file = path.join(dir, 'app.log');
  const log = createLogger({ name: 'test', file });
  write(log);
  log.info('last');
  const text = await until(() => {
    const t = readFileSync(file, 'utf8');
    return t.includes('"last"') ? t : undefined;
  }, 10_000);
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .slice(0, -1);
}

/** Holds a secret and a field its `toJSON` leaves out of the log. */
class Credentials {
  password = 'cred-password';
  hidden = 'hidden-field';
  toJSON() {
    return { password: this.password };
  }
}

/** Its `toJSON` writes a secret under a name the object itself does not hold. */
class Session {
  token = 'session-token';
  toJSON() {
    return { id: 's1', key: 'session-key' };
  }
}

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

  it('keep the causes and aggregated errors of an error whose secret is censored', async () => {
    const cause = new Error('INNER-CAUSE');
    const [line] = await loggedLines((log) =>
      log.error({
        err: Object.assign(new Error('OUTER', { cause }), { token: 'error-token' }),
        many: Object.assign(new AggregateError([new Error('first-of-many')], 'MANY'), {
          key: 'aggregate-key',
        }),
      }),
    );
    expect(line.err).toMatchObject({ message: 'OUTER: INNER-CAUSE', token: '[redacted]' });
    expect(line.err.stack).toContain('caused by: Error: INNER-CAUSE');
    // Not the error serialiser's field: the copy still is an AggregateError with its errors.
    expect(line.many).toEqual({ key: '[redacted]' });
    const [agg] = await loggedLines((log) =>
      log.error(
        Object.assign(new AggregateError([new Error('first-of-many')], 'MANY'), {
          key: 'aggregate-key',
        }),
      ),
    );
    expect(agg.err).toMatchObject({ type: 'AggregateError', key: '[redacted]' });
    expect(agg.err.aggregateErrors).toMatchObject([{ message: 'first-of-many' }]);
  });

  it("censor a child's serialiser outputs, setBindings, what toJSON writes and %j", async () => {
    const lines = await loggedLines((log) => {
      const serializing = log.child(
        {},
        { serializers: { conn: (c: { t: string }) => ({ token: c.t }) } },
      );
      serializing.info({ conn: { t: 'serialized-token' } }, 'serializer');
      serializing.child({ a: 1 }).info({ conn: { t: 'grandchild-token' } }, 'grandchild');
      const bound = log.child({ b: 1 });
      bound.setBindings({ p: { key: 'set-binding-key' } });
      bound.info('bindings');
      log.info({ creds: new Credentials(), session: new Session() }, 'toJSON');
      log.info('%j %o %j', { user: { token: 'format-token' } }, { peer: { key: 'format-key' } }, [
        { password: 'format-password' },
      ]);
    });
    const text = JSON.stringify(lines);
    for (const secret of [
      'serialized-token',
      'grandchild-token',
      'set-binding-key',
      'cred-password',
      'hidden-field',
      'session-token',
      'session-key',
      'format-token',
      'format-key',
      'format-password',
    ])
      expect(text).not.toContain(secret);
    expect(lines.slice(0, 3)).toMatchObject([
      { msg: 'serializer', conn: { token: '[redacted]' } },
      { msg: 'grandchild', conn: { token: '[redacted]' } },
      { msg: 'bindings', p: { key: '[redacted]' } },
    ]);
    expect(lines[3].creds).toEqual({ password: '[redacted]' });
    expect(lines[3].session).toEqual({ id: 's1', key: '[redacted]' });
    expect(lines[4].msg).toBe(
      '{"user":{"token":"[redacted]"}} {"peer":{"key":"[redacted]"}} [{"password":"[redacted]"}]',
    );
  });
});
