import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RotatingLogFile, type RotationLimits } from './log-file.js';
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

/** The files of `dir` oldest first (app.log.3, .2, .1, app.log) and their lines' numbers. */
function written(dir: string) {
  const names = readdirSync(dir)
    .filter((n) => n.startsWith('app.log'))
    .sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
  return names.map((name) => {
    const text = readFileSync(path.join(dir, name), 'utf8');
    const numbers = text
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { n?: number }).n);
    return { name, bytes: statSync(path.join(dir, name)).size, numbers };
  });
}

describe('a rotating log file', () => {
  it('keeps each file within its limit and the count of rotated files, every line once and in order', () => {
    const { dir, file } = setUp({ maxFileBytes: 1000, keepFiles: 3 });
    for (let n = 1; n <= 95; n++) {
      file.write(line(n));
      if (n % 7 === 0) file.flushSync();
    }
    file.flushSync();
    const found = written(dir);
    expect(found.map((f) => f.name)).toEqual(['app.log.3', 'app.log.2', 'app.log.1', 'app.log']);
    for (const f of found) expect(f.bytes).toBeLessThanOrEqual(1000);
    // 10 lines a file: 9 full files were written, the oldest 5 removed; the rest, in order.
    const numbers = found.flatMap((f) => f.numbers);
    expect(numbers).toEqual(Array.from({ length: 35 }, (_, i) => 61 + i));
  });

  it('writes a line longer than the limit whole, alone in its file', () => {
    const { dir, file } = setUp({ maxFileBytes: 300, keepFiles: 5 });
    file.write(line(1));
    file.write(line(2, 1000));
    file.write(line(3));
    file.flushSync();
    const found = written(dir);
    expect(found.map((f) => [f.name, f.numbers])).toEqual([
      ['app.log.2', [1]],
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
    file.flushSync();
    expect(reports).toHaveLength(1);
    expect(reports[0]!.msg).toMatch(/cannot rotate .*app\.log/);
    expect(reports[0]!.fields.code).toBe('EISDIR');
    expect(statSync(path.join(dir, 'app.log')).size).toBe(2000);

    rmSync(path.join(dir, 'app.log.1'), { recursive: true });
    // Rotation is tried again once the retry time has come, at the next line past the limit.
    let n = 40;
    await until(() => {
      file.write(line(++n));
      file.flushSync();
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

  it('after a restart, appends to the current file and shifts the rotated files there are, removing those beyond the count', () => {
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
    again.flushSync();
    expect(existsSync(path.join(dir, 'app.log.opening'))).toBe(false);
    expect(existsSync(path.join(dir, 'app.log.7.gz'))).toBe(false);
    expect(written(dir).map((f) => [f.name, f.numbers])).toEqual([
      ['app.log.2', [2]],
      ['app.log.1', [3, 3, 3, 3, 3, 3, 3, 3, 3, 4]],
      ['app.log', [5]],
    ]);
  });

  it('takes new limits at the next line: fewer files kept, a smaller size', () => {
    const { dir, file } = setUp({ maxFileBytes: 1000, keepFiles: 4 });
    for (let n = 1; n <= 50; n++) file.write(line(n));
    file.flushSync();
    expect(written(dir)).toHaveLength(5);
    file.setLimits({ maxFileBytes: 300, keepFiles: 1 });
    file.write(line(51));
    file.flushSync();
    expect(written(dir).map((f) => [f.name, f.numbers])).toEqual([
      ['app.log.1', [41, 42, 43, 44, 45, 46, 47, 48, 49, 50]],
      ['app.log', [51]],
    ]);
    expect(() => file.setLimits({ maxFileBytes: 0, keepFiles: 1 })).toThrow(/at least 1/);
  });
});
