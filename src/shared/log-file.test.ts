import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_QUEUED_BYTES, RotatingLogFile } from './log-file.js';
import type { RotationLimits } from './log-rotate.js';
import { until } from './until.js';

const dirs: string[] = [];
const files: RotatingLogFile[] = [];
afterEach(() => {
  for (const f of files.splice(0)) f.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setUp(limits: RotationLimits, retryMs = 60_000) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-log-file-'));
  dirs.push(dir);
  const reports: { msg: string; fields: Record<string, unknown> }[] = [];
  const open = () => {
    const f = new RotatingLogFile(path.join(dir, 'app.log'), {
      limits,
      retryMs,
      report: (msg, fields) => reports.push({ msg, fields }),
    });
    files.push(f);
    return f;
  };
  return { dir, reports, open, file: open() };
}

/** A line of about `bytes` bytes carrying its number. */
const line = (n: number, bytes = 100) => {
  const head = `{"n":${n},"pad":"`;
  return `${head}${'x'.repeat(Math.max(0, bytes - head.length - 3))}"}\n`;
};

/**
 * The files of `dir` oldest first (app.log.3.gz, .2.gz, .1, app.log), their lines' numbers and
 * their sizes before compression.
 */
function written(dir: string) {
  const names = readdirSync(dir)
    .filter((n) => n.startsWith('app.log'))
    .sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
  return names.map((name) => {
    const bytes = readFileSync(path.join(dir, name));
    const text = (name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString();
    const numbers = text
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { n?: number }).n);
    return { name, bytes: Buffer.byteLength(text), numbers };
  });
}

/**
 * Once every line written so far is in the file (rotations done) and the rotated files from
 * `.2` on are gzipped (compression runs in the background).
 */
async function settled(file: RotatingLogFile) {
  await new Promise<void>((resolve) => file.flush(() => resolve()));
  const dir = path.dirname(file.file);
  await until(
    () => !readdirSync(dir).some((n) => /\.([2-9]|\d\d+)$|\.partial$/.test(n)),
    10_000,
    'the rotated files compressed',
  );
}

describe('a rotating log file', () => {
  it('keeps each file within its limit and the count of rotated files, gzipped from .2 on, every line once and in order', async () => {
    const { dir, file } = setUp({ maxFileBytes: 1000, keepFiles: 3 });
    for (let n = 1; n <= 95; n++) {
      file.write(line(n));
      if (n % 7 === 0) await settled(file);
    }
    await settled(file);
    const found = written(dir);
    expect(found.map((f) => f.name)).toEqual([
      'app.log.3.gz',
      'app.log.2.gz',
      'app.log.1',
      'app.log',
    ]);
    for (const f of found) expect(f.bytes).toBeLessThanOrEqual(1000);
    // 10 lines a file: 9 full files were written, the oldest 5 removed; the rest, in order.
    const numbers = found.flatMap((f) => f.numbers);
    expect(numbers).toEqual(Array.from({ length: 35 }, (_, i) => 61 + i));
  });

  it('writes a line longer than the limit whole, alone in its file', async () => {
    const { dir, file } = setUp({ maxFileBytes: 300, keepFiles: 5 });
    file.write(line(1));
    file.write(line(2, 1000));
    file.write(line(3));
    await settled(file);
    const found = written(dir);
    expect(found.map((f) => [f.name, f.numbers])).toEqual([
      ['app.log.2.gz', [1]],
      ['app.log.1', [2]],
      ['app.log', [3]],
    ]);
    expect(found[1]!.bytes).toBe(1000);
  });

  it('when rotation fails, reports it once, grows to twice its limit, leaves the rest to stdout, and rotates once it can', async () => {
    const { dir, file, reports } = setUp({ maxFileBytes: 1000, keepFiles: 1 }, 50);
    // The oldest kept file cannot be removed: a directory, not empty, stands in its place.
    mkdirSync(path.join(dir, 'app.log.1', 'stuck'), { recursive: true });
    for (let n = 1; n <= 40; n++) file.write(line(n));
    await settled(file);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.msg).toMatch(/cannot rotate .*app\.log/);
    expect(reports[0]!.fields.code).toBe('EISDIR');
    expect(statSync(path.join(dir, 'app.log')).size).toBe(2000);

    rmSync(path.join(dir, 'app.log.1'), { recursive: true });
    // Rotation is tried again once the retry time has come, at the next line past the limit.
    let n = 40;
    await until(async () => {
      file.write(line(++n));
      await settled(file);
      return reports.length === 2;
    }, 5_000);
    expect(reports[1]!.fields.leftOut).toEqual({
      lines: 20 + (n - 41),
      bytes: (20 + n - 41) * 100,
    });
    const [old, current] = written(dir);
    expect(old!.numbers).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // The fresh file says how many lines only stdout has, then goes on with the next one.
    expect(current!.numbers).toEqual([undefined, n]);
    expect(readFileSync(path.join(dir, 'app.log'), 'utf8')).toMatch(/works again; \d+ lines/);
  });

  it('after a restart, appends to the current file and shifts the rotated files there are, removing those beyond the count', async () => {
    const { dir, file } = setUp({ maxFileBytes: 1000, keepFiles: 2 });
    file.close();
    files.length = 0;
    writeFileSync(path.join(dir, 'app.log'), line(3).repeat(9));
    writeFileSync(path.join(dir, 'app.log.1'), line(2));
    writeFileSync(path.join(dir, 'app.log.2'), line(1));
    writeFileSync(path.join(dir, 'app.log.7.gz'), 'old');
    writeFileSync(path.join(dir, 'app.log.opening'), '');
    const again = new RotatingLogFile(path.join(dir, 'app.log'), {
      limits: { maxFileBytes: 1000, keepFiles: 2 },
      report: () => undefined,
    });
    files.push(again);
    again.write(line(4));
    again.write(line(5));
    await settled(again);
    expect(existsSync(path.join(dir, 'app.log.opening'))).toBe(false);
    expect(existsSync(path.join(dir, 'app.log.7.gz'))).toBe(false);
    expect(written(dir).map((f) => [f.name, f.numbers])).toEqual([
      ['app.log.2.gz', [2]],
      ['app.log.1', [3, 3, 3, 3, 3, 3, 3, 3, 3, 4]],
      ['app.log', [5]],
    ]);
  });

  it('after a crash left half a line at its end, starts the next line on a line of its own and cuts nothing', () => {
    const { dir, file } = setUp({ maxFileBytes: 10_000, keepFiles: 2 });
    file.close();
    files.length = 0;
    // What a process killed during a write leaves: two whole lines and the start of a third.
    const half = line(3).slice(0, 40);
    writeFileSync(path.join(dir, 'app.log'), line(1) + line(2) + half);
    const again = new RotatingLogFile(path.join(dir, 'app.log'), {
      limits: { maxFileBytes: 10_000, keepFiles: 2 },
      report: () => undefined,
    });
    files.push(again);
    again.write(line(4));
    again.flushSync();
    expect(readFileSync(path.join(dir, 'app.log'), 'utf8')).toBe(
      line(1) + line(2) + half + '\n' + line(4),
    );
    // A file that ends on a whole line is left as it is.
    again.close();
    files.length = 0;
    const third = new RotatingLogFile(path.join(dir, 'app.log'), {
      limits: { maxFileBytes: 10_000, keepFiles: 2 },
      report: () => undefined,
    });
    files.push(third);
    third.write(line(5));
    third.flushSync();
    expect(readFileSync(path.join(dir, 'app.log'), 'utf8')).toBe(
      line(1) + line(2) + half + '\n' + line(4) + line(5),
    );
  });

  it('takes new limits at the next line: fewer files kept, a smaller size', async () => {
    const { dir, file } = setUp({ maxFileBytes: 1000, keepFiles: 4 });
    for (let n = 1; n <= 50; n++) file.write(line(n));
    await settled(file);
    expect(written(dir)).toHaveLength(5);
    file.setLimits({ maxFileBytes: 300, keepFiles: 1 });
    file.write(line(51));
    await settled(file);
    expect(written(dir).map((f) => [f.name, f.numbers])).toEqual([
      ['app.log.1', [41, 42, 43, 44, 45, 46, 47, 48, 49, 50]],
      ['app.log', [51]],
    ]);
    expect(() => file.setLimits({ maxFileBytes: 0, keepFiles: 1 })).toThrow(/at least 1/);
  });

  it('never blocks the event loop on a stalled file: lines wait, beyond the bound they are dropped and counted, in order', async () => {
    const { dir } = setUp({ maxFileBytes: 1000, keepFiles: 1 });
    // A pipe nobody reads stands in for a stalled disk: a write past its 64 KiB blocks.
    const fifo = path.join(dir, 'stalled.log');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const reports: string[] = [];
      const file = new RotatingLogFile(fifo, {
        limits: { maxFileBytes: 1024 * 1024 * 1024, keepFiles: 1 },
        report: (msg) => reports.push(msg),
      });
      files.push(file);
      const first = 200;
      for (let n = 1; n <= first; n++) file.write(line(n, 1000));
      // The event loop goes on turning while the write of those 200 kB is stuck in the pipe
      // (a synchronous write would never return).
      let turns = 0;
      await until(() => ++turns >= 5, 5_000, 'five turns of the event loop');
      // More than the bound waits now: the excess is dropped, and write() still returns at once.
      const more = Math.ceil((MAX_QUEUED_BYTES * 1.1) / 1000);
      for (let n = first + 1; n <= first + more; n++) expect(file.write(line(n, 1000))).toBe(true);
      // Drain the pipe: everything not dropped arrives, in order, exactly once.
      const chunks: Buffer[] = [];
      const buf = Buffer.alloc(1024 * 1024);
      const last = `"n":${first + more + 1},`;
      let marked = false;
      let tail = '';
      await until(
        () => {
          for (;;) {
            let n: number;
            try {
              n = readSync(reader, buf);
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
              throw e;
            }
            if (n === 0) break;
            chunks.push(Buffer.from(buf.subarray(0, n)));
            tail = (tail + buf.subarray(Math.max(0, n - 2000), n).toString()).slice(-4000);
          }
          // Once the count of dropped lines is out, one line more marks the end.
          if (!marked && reports.some((m) => / lines .* stdout only/.test(m))) {
            marked = true;
            file.write(line(first + more + 1, 1000));
          }
          return tail.includes(last);
        },
        30_000,
        'the last line through the pipe',
      );
      const parsed = Buffer.concat(chunks)
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { n?: number; dropped?: { lines: number; bytes: number } });
      const notices = parsed.filter((p) => p.dropped);
      expect(notices).toHaveLength(1);
      const numbers = parsed.filter((p) => p.n !== undefined).map((p) => p.n!);
      expect(numbers.pop()).toBe(first + more + 1);
      const dropped = first + more - numbers.length;
      expect(dropped).toBeGreaterThan(0);
      expect(notices[0]!.dropped).toEqual({ lines: dropped, bytes: dropped * 1000 });
      // The lines kept are the first ones, in order, each once: the dropped are the last.
      expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1));
      expect(reports.join('\n')).toMatch(new RegExp(`${dropped} lines .* stdout only`));
    } finally {
      closeSync(reader);
    }
  });

  it('after a write cut short by the file-size limit, keeps only whole lines and goes on on a fresh line', async () => {
    const { dir } = setUp({ maxFileBytes: 1000, keepFiles: 1 });
    const file = path.join(dir, 'limited.log');
    const script = path.join(dir, 'child.mjs');
    // 5050 bytes allowed: 50 lines of 100 fit, the 51st is cut half-way; then a short line,
    // which fits in the room left once the half line is gone.
    writeFileSync(
      script,
      `import { RotatingLogFile } from ${JSON.stringify(path.resolve('dist/src/shared/log-file.js'))};
const f = new RotatingLogFile(process.argv[2], { limits: { maxFileBytes: 1e9, keepFiles: 1 }, retryMs: 0, report: (m) => console.log(m) });
const line = (n) => { const h = '{"n":' + n + ',"pad":"'; return h + 'x'.repeat(100 - h.length - 3) + '"}\\n'; };
for (let n = 1; n <= 60; n++) f.write(line(n));
f.flushSync();
process.stdin.once('data', () => { f.write('{"n":61}\\n'); f.flushSync(); console.log('done'); process.exit(0); });
console.log('waiting');
`,
    );
    const child = spawn('prlimit', ['--fsize=5050', process.execPath, script, file], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      await until(() => out.includes('waiting'), 20_000, 'the child to write past its limit');
      expect(out).toMatch(/cannot write .*limited\.log/);
      // Only whole lines stay: 50 of them (5000 bytes), not half of the 51st.
      expect(statSync(file).size).toBe(5000);
      child.stdin.write('go\n');
      await until(() => out.includes('done'), 20_000, 'the line after');
      await exited;
    } finally {
      child.kill('SIGKILL');
    }
    const text = readFileSync(file, 'utf8');
    // Every line parses: nothing glued onto half a line.
    for (const l of text.split('\n').filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toContain('\n{"n":61}\n');
  });

  it('a rotation failing again and again loses no old file', async () => {
    const { dir, file } = setUp({ maxFileBytes: 1000, keepFiles: 2 }, 1);
    for (let n = 1; n <= 30; n++) file.write(line(n));
    await settled(file);
    expect(written(dir).map((f) => f.numbers)).toEqual([
      Array.from({ length: 10 }, (_, i) => i + 1),
      Array.from({ length: 10 }, (_, i) => i + 11),
      Array.from({ length: 10 }, (_, i) => i + 21),
    ]);
    // The current file is gone (removed by hand): renaming it to .1 fails at every retry.
    rmSync(path.join(dir, 'app.log'));
    let n = 30;
    let tries = 0;
    await until(
      async () => {
        file.write(line(++n));
        await settled(file);
        return ++tries >= 6;
      },
      5_000,
      'six rotations tried',
    );
    // The first try shifted .1 to .2 (the oldest, beyond the count, went); none after it did.
    expect(written(dir).map((f) => [f.name, f.numbers])).toEqual([
      ['app.log.2.gz', Array.from({ length: 10 }, (_, i) => i + 11)],
    ]);
    expect(existsSync(path.join(dir, 'app.log.opening'))).toBe(false);
  });
});
