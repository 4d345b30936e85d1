import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  open as fsOpen,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_QUEUED_BYTES, RotatingLogFile } from './log-file.js';
import { until } from './until.js';

/** Each test's directory, and the log files it opened: closed and removed after it. */
let dir = '';
const files: RotatingLogFile[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-log-rotate-'));
});
afterEach(() => {
  for (const f of files.splice(0)) f.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(file: string, maxFileBytes: number, keepFiles: number) {
  const reports: string[] = [];
  const f = new RotatingLogFile(file, {
    limits: { maxFileBytes, keepFiles },
    report: (msg) => reports.push(msg),
  });
  files.push(f);
  return { f, reports };
}

/** A line of `bytes` bytes carrying its number. */
const line = (n: number, bytes = 100) => {
  const head = `{"n":${n},"pad":"`;
  return `${head}${'x'.repeat(bytes - head.length - 3)}"}\n`;
};

const flushed = (f: RotatingLogFile) => new Promise<void>((resolve) => f.flush(() => resolve()));

const numbersIn = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { n: number }).n);

/** The lines of `file` and its rotated files, oldest first, parsed. */
function allLines(file: string) {
  const index = (name: string) => Number(/\.(\d+)(\.gz)?$/.exec(name)?.[1] ?? 0);
  return readdirSync(dir)
    .filter((n) => n.startsWith(path.basename(file)))
    .sort((a, b) => index(b) - index(a))
    .flatMap((name) => {
      const raw = readFileSync(path.join(dir, name));
      return (name.endsWith('.gz') ? gunzipSync(raw) : raw)
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { n?: number; dropped?: { lines: number } });
    });
}

describe('rotated log files', () => {
  it('are listed and removed off the event loop: with 5,000 old files to remove, the event loop keeps turning and no line is lost', async () => {
    const file = path.join(dir, 'app.log');
    // What a count lowered from a large one leaves: files beyond the count, removed at the
    // next rotation (a synchronous rotation held the event loop for the whole of it).
    for (let i = 3; i < 5_003; i++) writeFileSync(`${file}.${i}.gz`, '');
    const { f } = open(file, 1000, 2);
    for (let n = 1; n <= 10; n++) f.write(line(n));
    await flushed(f);

    const delay = monitorEventLoopDelay({ resolution: 1 });
    let turns = 0;
    let rotating = true;
    const turn = () => {
      turns++;
      if (rotating) setImmediate(turn);
    };
    delay.enable();
    setImmediate(turn);
    const started = process.hrtime.bigint();
    // Line 11 passes the limit: the file is rotated, the 5,000 old files removed meanwhile.
    for (let n = 11; n <= 20; n++) f.write(line(n));
    await flushed(f);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    rotating = false;
    delay.disable();
    console.log(
      `rotation with 5,000 old files: ${ms.toFixed(0)} ms, ${turns} turns of the event loop, delay max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms`,
    );
    expect(readdirSync(dir).sort()).toEqual(['app.log', 'app.log.1']);
    expect(numbersIn(readFileSync(`${file}.1`, 'utf8'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(numbersIn(readFileSync(file, 'utf8'))).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    // The event loop went on turning while the files were removed: one turn a removal or so,
    // where a synchronous rotation gave it none from its first removal to its last rename.
    expect(turns).toBeGreaterThan(100);
    // (No bound on the delay itself: one GC pause or a loaded machine's stolen CPU may take
    // longer than the whole rotation; the turns counted are what a synchronous one fails.)
  }, 60_000);

  it('old files removed by hand while a rotation removes them are passed over: the rotation does not fail', async () => {
    const file = path.join(dir, 'app.log');
    for (let i = 3; i < 5_003; i++) writeFileSync(`${file}.${i}.gz`, '');
    const { f, reports } = open(file, 1000, 2);
    for (let n = 1; n <= 10; n++) f.write(line(n));
    await flushed(f);
    // Line 11 passes the limit: the rotation lists the 5,000 old files and removes them one
    // after the other; once it has begun, the rest are removed by hand under it.
    for (let n = 11; n <= 20; n++) f.write(line(n));
    await until(() => readdirSync(dir).length < 4_990, 30_000, 'the rotation to start removing', 1);
    let byHand = 0;
    for (const name of readdirSync(dir))
      if (name.endsWith('.gz')) {
        rmSync(path.join(dir, name));
        byHand++;
      }
    await flushed(f);
    console.log(`removed by hand under the rotation: ${byHand} files`);
    expect(byHand).toBeGreaterThan(0);
    expect(reports).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['app.log', 'app.log.1']);
    expect(numbersIn(readFileSync(`${file}.1`, 'utf8'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(numbersIn(readFileSync(file, 'utf8'))).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  }, 60_000);

  it('a rotation held up for real (the thread pool stalled) holds up neither the event loop nor a line: lines wait in order, beyond 8 MiB they are dropped and counted', async () => {
    const file = path.join(dir, 'app.log');
    // Full after 1,000 lines of 1,000 bytes: the next line asks for a rotation.
    const { f } = open(file, 1_000_000, 20);
    for (let n = 1; n <= 1000; n++) f.write(line(n, 1000));
    await flushed(f);
    // Every thread of libuv's pool waits to open a FIFO nobody reads: the rotation's first
    // step (opening the next file) waits behind them, as on a disk that stopped answering.
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const fifos = Array.from({ length: threads }, (_, i) => path.join(dir, `stall-${i}`));
    for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
    const stalled = fifos.map(
      (fifo) => new Promise<number>((resolve) => fsOpen(fifo, 'w', (_e, fd) => resolve(fd))),
    );
    const readers: number[] = [];
    try {
      // Line 1001 passes the limit: the rotation starts and waits; 10 MB more lines come, a
      // few hundred at each turn of the event loop.
      let n = 1000;
      let turns = 0;
      await until(
        () => {
          turns++;
          for (let i = 0; i < 500; i++) f.write(line(++n, 1000));
          return n >= 11_000;
        },
        30_000,
        'ten thousand lines more',
        1,
      );
      expect(turns).toBeGreaterThanOrEqual(20);
      expect(existsSync(`${file}.1`)).toBe(false);
      expect(statSync(file).size).toBe(1_000_000);
      // The pool answers again: the rotation ends, what waited is written.
      for (const fifo of fifos)
        readers.push(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
      for (const fd of await Promise.all(stalled)) closeSync(fd);
      await flushed(f);
    } finally {
      for (const fd of readers) closeSync(fd);
    }
    const lines = allLines(file);
    const notices = lines.filter((l) => l.dropped);
    const numbers = lines.filter((l) => l.n !== undefined).map((l) => l.n!);
    // Every line kept once, in order; the dropped are the last ones, and counted.
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1));
    const dropped = 11_000 - numbers.length;
    expect(notices).toEqual([
      expect.objectContaining({
        dropped: { lines: dropped, bytes: dropped * 1000 },
        // Said as it was: the rotation held up, not a write.
        msg: expect.stringContaining('while it was being rotated (the rotation held up'),
      }),
    ]);
    // No more than 8 MiB waited while the rotation was held up.
    expect((numbers.length - 1000) * 1000).toBeLessThanOrEqual(MAX_QUEUED_BYTES);
    expect((numbers.length - 1000) * 1000).toBeGreaterThan(MAX_QUEUED_BYTES - 1000);
  }, 120_000);

  it('a rotation does not wait behind a gzip: with a large plain .2 (left by an older version) being gzipped, the rotation goes first, no line is dropped, and the .2 is gzipped after', async () => {
    const file = path.join(dir, 'app.log');
    // 48 MB of lines that gzip slowly (random base64): seconds of gzip, started at the open.
    const old = Array.from({ length: 48 }, () =>
      randomBytes(750_000)
        .toString('base64')
        .match(/.{1,1000}/g)!
        .map((pad) => `{"old":1,"pad":"${pad}"}\n`)
        .join(''),
    ).join('');
    writeFileSync(`${file}.1`, line(0));
    writeFileSync(`${file}.2`, old);
    const { f, reports } = open(file, 1_000_000, 20);
    await until(
      () => readdirSync(dir).includes('app.log.2.gz.partial'),
      20_000,
      'the gzip to start',
    );
    // 12 MB of lines, 100 at each turn of the event loop: the first rotation is due after
    // 1,000 of them; behind a whole gzip of .2, more than 8 MiB waited and was dropped.
    let n = 0;
    const started = Date.now();
    await until(
      () => {
        for (let i = 0; i < 100; i++) f.write(line(++n, 1000));
        return n >= 12_000;
      },
      60_000,
      'twelve thousand lines',
      1,
    );
    await flushed(f);
    const ms = Date.now() - started;
    // The old file, shifted up by each rotation, is gzipped once the rotations are done.
    await until(
      () =>
        readdirSync(dir)
          .filter((n) => /^app\.log\.\d+$/.test(n))
          .join() === 'app.log.1',
      60_000,
      'every rotated file but .1 gzipped',
    );
    const names = readdirSync(dir);
    console.log(`12 MB of lines over a 48 MB gzip: ${ms} ms; files ${names.length}`);
    expect(names).not.toContainEqual(expect.stringMatching(/partial/));
    const lines = allLines(file);
    expect(lines.filter((l) => l.dropped)).toEqual([]);
    const numbers = lines.filter((l) => l.n !== undefined).map((l) => l.n!);
    expect(numbers).toEqual(Array.from({ length: 12_001 }, (_, i) => i));
    expect(lines.filter((l) => 'old' in l).length).toBe(old.split('\n').length - 1);
    expect(reports).toEqual([]);
  }, 180_000);

  it('a process killed while gzipping a rotated file leaves the plain file or a whole .gz; the next start finishes it, every line kept once', async () => {
    const file = path.join(dir, 'app.log');
    // 200,000 lines (20 MB): gzipping takes long enough to be killed part-way.
    const count = 200_000;
    const text = Array.from({ length: count }, (_, i) => line(i + 1)).join('');
    const seed = Number(process.env.SEED ?? randomInt(1_000_000));
    console.log(`crash during compression: seed ${seed}`);
    let rand = seed;
    const next = () => (rand = (rand * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const states = new Set<string>();
    for (let round = 0; round < 4; round++) {
      for (const name of readdirSync(dir)) rmSync(path.join(dir, name));
      writeFileSync(`${file}.1`, line(0));
      writeFileSync(`${file}.2`, text);
      // A child opens the log file (which gzips .2 in the background) and is killed at a
      // random moment once it has started.
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { RotatingLogFile } from ${JSON.stringify(path.resolve('dist/src/shared/log-file.js'))};
new RotatingLogFile(${JSON.stringify(file)}, { limits: { maxFileBytes: 1e6, keepFiles: 5 }, report: (m) => console.log(m) });
console.log('open');
setInterval(() => undefined, 1000);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      try {
        await until(() => out.includes('open'), 20_000, 'the child to open the log file');
        const deadline = Date.now() + next() * 600;
        await until(() => Date.now() >= deadline, 5_000, 'the moment to kill');
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      const left = readdirSync(dir)
        .filter((n) => n.startsWith('app.log.2'))
        .sort();
      states.add(left.join(' '));
      // What a kill -9 may leave: the plain file (with a partial .gz), or a whole .gz (with
      // the plain one not yet removed).
      expect([
        ['app.log.2'],
        ['app.log.2', 'app.log.2.gz.partial'],
        ['app.log.2', 'app.log.2.gz'],
        ['app.log.2.gz'],
      ]).toContainEqual(left);
      if (left.includes('app.log.2.gz'))
        expect(gunzipSync(readFileSync(`${file}.2.gz`)).toString()).toBe(text);

      // The next start settles it: one whole .gz, nothing else.
      const { f, reports } = open(file, 1e6, 5);
      await until(
        () =>
          readdirSync(dir)
            .filter((n) => n.startsWith('app.log.2'))
            .join(' ') === 'app.log.2.gz',
        30_000,
        'the next start to finish the compression',
      );
      f.close();
      files.length = 0;
      expect(reports).toEqual([]);
      expect(gunzipSync(readFileSync(`${file}.2.gz`)).toString()).toBe(text);
      expect(readFileSync(`${file}.1`, 'utf8')).toBe(line(0));
    }
    console.log(`states left by the kills: ${[...states].join(' | ')}`);
  }, 240_000);
});
