/**
 * The appliance's log files stay bounded (docs/operations.md, Log files): a size limit and a
 * count set through the /appliance API, enough requests to rotate several times (each logs a
 * line with its number), across a restart: every file within the limit, the count kept, and
 * every line still kept there exactly once, in the order written.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  startTestAppliance,
  storeApplianceSetting,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { adminSignIn, cliResult } from './support/cli.js';

const MiB = 1024 * 1024;
const PAD = 'p'.repeat(3000);

/** One request whose log line (a 404's path is logged) carries `n` and is ~3.2 KB long. */
const probe = (t: TestAppliance, n: number) =>
  t.anon.call('GET', `/rotation-probe/${n}/${PAD}`).then((r) => expect(r.status).toBe(404));

/**
 * The appliance.log files, oldest first, the probe numbers each holds in its order, their
 * sizes before compression (`bytes`) and on disk.
 */
function logFiles(dataDir: string) {
  const dir = path.join(dataDir, 'logs');
  const index = (name: string) => Number(/\.(\d+)(\.gz)?$/.exec(name)?.[1] ?? 0);
  return readdirSync(dir)
    .filter((n) => n.startsWith('appliance.log'))
    .sort((a, b) => index(b) - index(a))
    .map((name) => {
      const raw = readFileSync(path.join(dir, name));
      const text = (name.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
      const probes = [...text.matchAll(/"url":"\/rotation-probe\/(\d+)\//g)].map((m) =>
        Number(m[1]),
      );
      return { name, bytes: Buffer.byteLength(text), onDisk: raw.length, probes, text };
    });
}

const cookieOf = (headers: Record<string, string | string[] | undefined>) =>
  [headers['set-cookie'] ?? []]
    .flat()
    .map((c) => c.split(';')[0])
    .join('; ');

/** A form post of the /appliance web console, signed in as a browser is (cookies, CSRF field). */
async function webConsole(t: TestAppliance) {
  const c = t.anon;
  const html = { accept: 'text/html' };
  const signInPage = await c.call<string>('GET', '/appliance/sign-in', { headers: html });
  const pre = cookieOf(signInPage.headers);
  const form = (fields: Record<string, string>) => ({
    raw: Buffer.from(new URLSearchParams(fields).toString()),
    headers: { ...html, 'content-type': 'application/x-www-form-urlencoded' },
  });
  const csrfIn = (page: string) => /name="_csrf" value="([0-9a-f]+)"/.exec(page)![1]!;
  const signedIn = await c.call('POST', '/appliance/sign-in', {
    ...form({ _csrf: csrfIn(signInPage.body), username: 'admin', password: ADMIN_PASSWORD }),
    headers: { ...form({}).headers, cookie: pre },
  });
  const cookie = cookieOf(signedIn.headers);
  const get = (url: string) => c.call<string>('GET', url, { headers: { ...html, cookie } });
  const post = async (url: string, fields: Record<string, string>) => {
    const csrf = csrfIn((await get('/appliance/logs')).body);
    const f = form({ _csrf: csrf, ...fields });
    return c.call<string>('POST', url, { ...f, headers: { ...f.headers, cookie } });
  };
  return { get, post };
}

describe('log rotation', () => {
  it('refuses a size or count of 0, negative, absurdly large or not whole in the API, the web console and the command line, naming the field and the bounds', async () => {
    const t = await startTestAppliance({ name: 'log-rotation-refusals' });
    const put = (json: unknown) =>
      t.api.call<{ errors: { field: string; message: string }[] }>(
        'PUT',
        '/api/appliance/logs/rotation',
        { json },
      );
    const cases: [unknown, string, RegExp][] = [
      [{ maxFileMiB: 0, keepFiles: 10 }, 'maxFileMiB', /at least 1/],
      [{ maxFileMiB: -5, keepFiles: 10 }, 'maxFileMiB', /at least 1/],
      [{ maxFileMiB: 1e9, keepFiles: 10 }, 'maxFileMiB', /at most 1024 \(1 GiB per file/],
      [{ maxFileMiB: 1.5, keepFiles: 10 }, 'maxFileMiB', /whole number of MiB \(1 to 1024\)/],
      [{ maxFileMiB: '50', keepFiles: 10 }, 'maxFileMiB', /whole number of MiB from 1 to 1024/],
      [{ maxFileMiB: 50, keepFiles: 0 }, 'keepFiles', /at least 1/],
      [{ maxFileMiB: 50, keepFiles: 1000 }, 'keepFiles', /at most 100/],
      [{ maxFileMiB: 50 }, 'keepFiles', /is required/],
      [
        { maxFileMiB: 1024, keepFiles: 100 },
        'keepFiles',
        /\(keepFiles \+ 1\) × maxFileMiB × 2 logs must be at most 20480 MiB .* 101 × 1024 × 2 = 206848 MiB; lower keepFiles or maxFileMiB \(at 1024 MiB, keep at most 9 files\)/,
      ],
    ];
    for (const [json, field, message] of cases) {
      const res = await put(json);
      expect(res.status, JSON.stringify(json)).toBe(400);
      expect(res.body.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
    }
    expect((await t.api.call('GET', '/api/appliance/logs/rotation')).body).toEqual({
      maxFileMiB: 50,
      keepFiles: 10,
    });

    // The web console's page: the same refusals beside their fields, then a change.
    const web = await webConsole(t);
    const page = await web.get('/appliance/logs');
    expect(page.status).toBe(200);
    expect(page.body).toContain('appliance.log');
    expect(page.body).toMatch(/id="f-maxFileMiB"[^>]*value="50"/);
    const refused = await web.post('/appliance/logs/rotation', {
      maxFileMiB: '0',
      keepFiles: '2.5',
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/id="error-maxFileMiB">must be at least 1</);
    expect(refused.body).toMatch(/id="error-keepFiles">must be a whole number of files/);
    const tooMuch = await web.post('/appliance/logs/rotation', {
      maxFileMiB: '1024',
      keepFiles: '20',
    });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body).toMatch(/id="error-keepFiles">\(keepFiles \+ 1\) × maxFileMiB × 2 logs/);
    const saved = await web.post('/appliance/logs/rotation', { maxFileMiB: '20', keepFiles: '5' });
    expect(saved.status).toBe(303);
    expect((await t.api.call('GET', '/api/appliance/logs/rotation')).body).toEqual({
      maxFileMiB: 20,
      keepFiles: 5,
    });

    // The command line: the same refusal, then a change.
    const { args, env } = adminSignIn(t.proc, 'appliance');
    const rotation = (...more: string[]) =>
      cliResult(['appliance', 'log-rotation', ...more, ...args], env);
    const bad = await rotation('set', '--max-file-mib', '2048', '--keep-files', 'ten');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/maxFileMiB: must be at most 1024/);
    expect(bad.stderr).toMatch(/keepFiles: is required: a whole number of files from 1 to 100/);
    const good = await rotation('set', '--max-file-mib', '100', '--keep-files', '4');
    expect(good.stdout).toBe(
      'Log files are rotated at 100 MiB; 4 rotated files are kept per log.\n',
    );
    expect((await rotation('show')).stdout).toBe(good.stdout);
  }, 120_000);

  it('says so in the event log, the worker log and on the Log files page when a saved setting over the cap stands replaced by the defaults', async () => {
    const t = await startTestAppliance({ name: 'log-rotation-over-cap' });
    // What an older version could save: 101 × 1024 MiB × 2 logs, past today's 20 GiB cap.
    await t.restart(() => {
      storeApplianceSetting(t.dataDir, 'logs.rotation', { maxFileMiB: 1024, keepFiles: 100 });
    });
    expect((await t.api.call('GET', '/api/appliance/logs/rotation')).body).toEqual({
      maxFileMiB: 50,
      keepFiles: 10,
    });
    const events = await t.api.call<{
      items: { target: string; outcome: string; details: Record<string, unknown> }[];
    }>('GET', '/api/login/logs?action=logs.rotation-ignored');
    expect(events.body.items).toEqual([
      expect.objectContaining({
        target: '1024 MiB × 100 files',
        outcome: 'failed',
        details: {
          saved: { maxFileMiB: 1024, keepFiles: 100 },
          reason: expect.stringMatching(/keepFiles: \(keepFiles \+ 1\) × maxFileMiB × 2 logs/),
          inForce: { maxFileMiB: 50, keepFiles: 10 },
        },
      }),
    ]);
    await until(
      () =>
        /"level":40.*saved log rotation setting \(1024 MiB × 100 files\) refused, the defaults are in force/.test(
          readFileSync(path.join(t.dataDir, 'logs', 'appliance.log'), 'utf8'),
        ),
      10_000,
      'the warning in appliance.log',
    );

    const web = await webConsole(t);
    const page = (await web.get('/appliance/logs')).body;
    const warning = /<p class="notice warn" role="alert" id="rotation-ignored">([^]*?)<\/p>/.exec(
      page,
    )?.[1];
    expect(warning).toBeDefined();
    const text = warning!.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ');
    expect(text).toContain('The saved rotation setting (1024 MiB × 100 files) is not used');
    expect(text).toContain('keep at most 9 files');
    expect(text).toContain('The defaults are in force instead (50 MiB, 10 kept)');
    expect(text).toContain('gatehouse appliance log-rotation set');
    expect(page).toMatch(/id="f-maxFileMiB"[^>]*value="50"/);
    // Saving a setting within the cap replaces it: the warning goes.
    const saved = await web.post('/appliance/logs/rotation', {
      maxFileMiB: '1024',
      keepFiles: '9',
    });
    expect(saved.status).toBe(303);
    expect((await web.get('/appliance/logs')).body).not.toContain('rotation-ignored');
  }, 120_000);

  it('keeps each file within the limit and the count of files, every line kept exactly once in order, across a restart', async () => {
    const t = await startTestAppliance({ name: 'log-rotation' });
    const set = await t.api.call('PUT', '/api/appliance/logs/rotation', {
      json: { maxFileMiB: 1, keepFiles: 2 },
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ maxFileMiB: 1, keepFiles: 2 });
    // The supervisor rotates its own file under the same setting: the worker told it.
    const supervisorLog = path.join(t.dataDir, 'logs', 'supervisor.log');
    await until(
      () => readFileSync(supervisorLog, 'utf8').includes('log files rotated at 1 MiB, 2 kept'),
      10_000,
      'the supervisor to follow the new setting',
    );

    // ~5.3 MiB of probe lines: the file is rotated 5 times, the oldest lines are removed.
    let n = 0;
    const send = async (count: number) => {
      for (let i = 0; i < count; i++) await probe(t, ++n);
      // Written once per turn of the event loop: wait for the last one.
      await until(
        () => logFiles(t.dataDir).at(-1)!.probes.at(-1) === n,
        10_000,
        `probe ${n} in appliance.log`,
      );
    };
    const names = 'appliance.log.2.gz appliance.log.1 appliance.log';
    const check = async () => {
      // The newest rotated file stays plain, the older one is gzipped in the background.
      await until(
        () =>
          logFiles(t.dataDir)
            .map((f) => f.name)
            .join(' ') === names,
        10_000,
        names,
      );
      const files = logFiles(t.dataDir);
      for (const f of files) expect(f.bytes, f.name).toBeLessThanOrEqual(1 * MiB);
      expect(files[0]!.onDisk).toBeLessThan(files[0]!.bytes / 5);
      // The rotated files are full: each holds close to 1 MiB (less at most one probe line).
      for (const f of files.slice(0, -1)) expect(f.bytes, f.name).toBeGreaterThan(MiB - 3_500);
      const probes = files.flatMap((f) => f.probes);
      const first = probes[0]!;
      expect(probes).toEqual(Array.from({ length: n - first + 1 }, (_, i) => first + i));
      return { first, files };
    };
    await send(1_700);
    const before = await check();
    expect(before.first).toBeGreaterThan(600);

    // A restart appends to appliance.log and shifts the files there are.
    await t.restart();
    await send(400);
    const after = await check();
    expect(after.first).toBeGreaterThan(before.first);
    expect(after.files.some((f) => f.text.includes('"msg":"stopped"'))).toBe(true);

    // The setting is the appliance's own, kept across the restart.
    expect((await t.api.call('GET', '/api/appliance/logs/rotation')).body).toEqual({
      maxFileMiB: 1,
      keepFiles: 2,
    });
    const events = await t.api.call<{ items: { target: string }[] }>(
      'GET',
      '/api/login/logs?action=logs.rotation-set',
    );
    expect(events.body.items.map((e) => e.target)).toEqual(['1 MiB × 2']);
  }, 240_000);
});
