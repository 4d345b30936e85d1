import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  tempDir,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { startTargets, type Targets } from './support/targets.js';
import { enrolmentToken } from './support/jump-clients.js';
import { cli, siteSignIn } from './support/cli.js';

const HOSTNAME = `site-export-${process.pid}.gatehouse.test`;
const HOSTS_LINE = `127.0.0.1 ${HOSTNAME}`;

/** The site hostname in /etc/hosts for this file only (S18/S20: clients configured by name). */
function addHostsLine(): void {
  const text = readFileSync('/etc/hosts', 'utf8');
  writeFileSync('/etc/hosts', `${text.endsWith('\n') ? text : text + '\n'}${HOSTS_LINE}\n`);
}
function removeHostsLine(): void {
  const text = readFileSync('/etc/hosts', 'utf8');
  writeFileSync(
    '/etc/hosts',
    text
      .split('\n')
      .filter((l) => l !== HOSTS_LINE)
      .join('\n'),
  );
}

interface Summary {
  appliance: string;
  sessions: { new: number; alreadyHad: number };
  recordings: { downloaded: number; bytes: number };
  events: { new: number; alreadyHad: number };
}

interface Record {
  id: string;
  recordingSha256: string;
  recordingSize: number;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** One session through the Jump Client carrying `data`, and its record once it is written. */
async function session(site: TestAppliance, rep: RepresentativeConsole, target: string) {
  const data = randomBytes(48 * 1024);
  const { session: id, socket } = await rep.openSession('export-jump', target);
  await new Promise<void>((resolve, reject) => {
    let n = 0;
    (socket as net.Socket).on('data', (c: Buffer) => {
      n += c.length;
      if (n >= data.length) resolve();
    });
    socket.on('error', reject);
    socket.write(data);
  });
  socket.end();
  await until(
    async () =>
      (
        await site.api.call<{ sessions: Record[] }>('GET', '/api/login/sessions')
      ).body.sessions.some((s) => s.id === id),
    10_000,
    `the record of session ${id}`,
  );
  return id;
}

describe('gatehouse integration export (real appliance, Jump Client, console and CLI)', () => {
  let site: TestAppliance;
  let targets: Targets;
  let jump: JumpClient;
  let rep: RepresentativeConsole;
  let out: string;
  let sqlite: string;

  const exportBy = async (host: string, extra: string[] = []) => {
    const admin = siteSignIn(site.proc, { host });
    const { stdout, stderr } = await cli(
      [
        'integration',
        'export',
        ...admin.args,
        '--out',
        out,
        '--sqlite',
        sqlite,
        '--json',
        ...extra,
      ],
      admin.env,
    );
    expect(stderr).not.toContain(admin.env.GATEHOUSE_PASSWORD);
    return JSON.parse(stdout) as Summary;
  };

  beforeAll(async () => {
    addHostsLine();
    [site, targets] = await Promise.all([
      startTestAppliance({ name: 'export-site' }),
      startTargets(),
    ]);
    const endpoint = {
      host: site.proc.host,
      port: site.proc.port,
      fingerprint: site.proc.fingerprint,
    };
    const token = await enrolmentToken(site.api);
    jump = new JumpClient({
      site: endpoint,
      name: 'export-jump',
      group: 'default',
      token,
      allow: [targets.echo],
    });
    jump.start();
    rep = await RepresentativeConsole.signIn(endpoint, 'admin', LOGIN_PASSWORD);
    await until(
      async () => (await rep.jumpClients()).some((j) => j.name === 'export-jump'),
      10_000,
      'the Jump Client to register',
    );
    const root = tempDir();
    out = path.join(root, 'export');
    sqlite = path.join(root, 'export.db');
  });
  afterAll(async () => {
    removeHostsLine();
    await rep?.close();
    await jump?.stop();
    await targets?.close();
  });

  it('exports by hostname, then by address into the same folder: only what is new, nothing twice', async () => {
    const first = [await session(site, rep, targets.echo), await session(site, rep, targets.echo)];
    const one = await exportBy(HOSTNAME);
    expect(one.appliance).toBe('export-site');
    expect(one.sessions).toEqual({ new: 2, alreadyHad: 0 });
    expect(one.recordings.downloaded).toBe(2);
    expect(one.events.new).toBeGreaterThan(0);

    const third = await session(site, rep, targets.echo);
    const two = await exportBy('127.0.0.1');
    // The overlap window reads the first two again; they are recognised, not fetched again.
    expect(two.sessions).toEqual({ new: 1, alreadyHad: 2 });
    expect(two.recordings.downloaded).toBe(1);
    expect(two.events.alreadyHad).toBeGreaterThanOrEqual(one.events.new);

    const ids = [...first, third].sort();
    expect(readdirSync(path.join(out, 'sessions')).sort()).toEqual(ids.map((i) => `${i}.json`));
    for (const id of ids) {
      const record = JSON.parse(
        readFileSync(path.join(out, 'sessions', `${id}.json`), 'utf8'),
      ) as Record;
      const recording = readFileSync(path.join(out, 'recordings', `${id}.rec`));
      expect(sha256(recording)).toBe(record.recordingSha256);
      expect(recording.length).toBe(record.recordingSize);
    }

    const events = readdirSync(path.join(out, 'logs')).flatMap((f) =>
      readFileSync(path.join(out, 'logs', f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; action: string; target: string }),
    );
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const started = events.filter((e) => e.action === 'session.started').map((e) => e.target);
    expect(started.sort()).toEqual(ids);

    // The SQLite copy holds exactly the same rows.
    const db = new Database(sqlite, { readonly: true });
    try {
      const rows = db
        .prepare('SELECT id, recording_sha256, recording_file FROM session_records ORDER BY id')
        .all() as { id: string; recording_sha256: string; recording_file: string }[];
      expect(rows.map((r) => r.id)).toEqual(ids);
      for (const r of rows)
        expect(sha256(readFileSync(path.join(out, r.recording_file)))).toBe(r.recording_sha256);
      const eventIds = (db.prepare('SELECT id FROM events').all() as { id: string }[])
        .map((r) => r.id)
        .sort();
      expect(eventIds).toEqual(events.map((e) => e.id).sort());
    } finally {
      db.close();
    }
  });

  it('loses its cursor without duplicating anything: every id is recognised', async () => {
    const before = readdirSync(path.join(out, 'sessions')).length;
    rmSync(path.join(out, 'state.json'));
    const again = await exportBy(HOSTNAME);
    expect(again.sessions).toEqual({ new: 0, alreadyHad: before });
    expect(again.recordings.downloaded).toBe(0);
    expect(existsSync(path.join(out, 'state.json'))).toBe(true);
  });

  it('keeps nothing of a recording whose sha256 does not match, and takes it once it does', async () => {
    const id = await session(site, rep, targets.echo);
    const record = (
      await site.api.call<{ sessions: Record[] }>('GET', '/api/login/sessions')
    ).body.sessions.find((s) => s.id === id)!;
    const blob = path.join(
      site.dataDir,
      'blobs',
      'sha256',
      record.recordingSha256.slice(0, 2),
      record.recordingSha256,
    );
    const good = readFileSync(blob);
    const bad = Buffer.from(good);
    bad[bad.length - 1]! ^= 0xff;
    const state = readFileSync(path.join(out, 'state.json'), 'utf8');
    writeFileSync(blob, bad);
    try {
      await expect(exportBy('127.0.0.1')).rejects.toMatchObject({
        stderr: expect.stringContaining('RECORDING_DIGEST_MISMATCH'),
      });
    } finally {
      writeFileSync(blob, good);
    }
    expect(existsSync(path.join(out, 'sessions', `${id}.json`))).toBe(false);
    expect(readdirSync(path.join(out, 'recordings')).filter((f) => f.includes(id))).toEqual([]);
    expect(readFileSync(path.join(out, 'state.json'), 'utf8')).toBe(state);

    const retry = await exportBy('127.0.0.1');
    expect(retry.sessions.new).toBe(1);
    expect(sha256(readFileSync(path.join(out, 'recordings', `${id}.rec`)))).toBe(
      record.recordingSha256,
    );
  });

  it('refuses bad input naming the flag, with exit code 2', async () => {
    await expect(exportBy(HOSTNAME, ['--since', 'last tuesday'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--since'),
    });
    await expect(exportBy('no-such-site.gatehouse.test')).rejects.toMatchObject({
      stderr: expect.stringContaining('SITE_UNREACHABLE'),
    });
    await expect(cli(['integration', 'export', '--out', out])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--site'),
    });
  });
});
