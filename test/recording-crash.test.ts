import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRecording, RECORDING_MAGIC } from '../src/sessions/recording.js';
import { CODE_ROOT } from '../src/shared/version.js';
import { until } from '../src/shared/until.js';

// The chunks a child records: their sizes cross block and slab boundaries, and every byte says
// which chunk and which byte it is (the same expressions in CHILD below).
const SIZES = [
  16_384, 16_384, 16_384, 1, 16_384, 16_384, 513, 16_384, 4097, 16_384, 16_384, 70_001,
];
const size = (i: number) => SIZES[i % SIZES.length]!;
const direction = (i: number) => (i % 5 === 0 ? 1 : 0);
const byte = (i: number, j: number) => (i * 131 + j * 7) & 255;

/**
 * A process that records chunks as fast as the writer takes them (the built writer: npm run
 * build), and on a write error prints what failed and how finish() ended.
 */
const CHILD = `
import { readdirSync, readlinkSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [modulePath, file] = process.argv.slice(2);
const { RecordingWriter } = await import(pathToFileURL(modulePath).href);
const SIZES = ${JSON.stringify(SIZES)};
const writer = new RecordingWriter(file, { session: 's-1', appliance: 'a', representative: 'admin',
  jumpClient: 'web-01', target: '127.0.0.1:22', startedAt: Date.now() });
let failed = false;
writer.onError((e) => {
  failed = true;
  console.log('error ' + (e.code ?? e.message));
  writer.finish().then(
    () => console.log('finished'),
    (e) => {
      const open = readdirSync('/proc/self/fd').filter((fd) => {
        try { return readlinkSync('/proc/self/fd/' + fd) === file; } catch { return false; }
      });
      console.log('descriptors ' + open.length);
      console.log('finish rejected ' + (e.code ?? e.message));
    },
  );
});
for (let i = 0; !failed; i++) {
  const length = SIZES[i % SIZES.length];
  const data = Buffer.allocUnsafe(length);
  for (let j = 0; j < length; j++) data[j] = (i * 131 + j * 7) & 255;
  if (!writer.append(i % 5 === 0 ? 'from-target' : 'to-target', data))
    await new Promise((r) => writer.onDrain(r));
  if (i % 8 === 7) await new Promise((r) => setImmediate(r));
}
`;

/** Check that `file` holds the child's chunks, in order, every byte up to its end. */
function checkRecording(file: string): { frames: number; size: number } {
  const data = readFileSync(file);
  const { frames, truncated } = parseRecording(data);
  frames.forEach((f, i) => {
    expect(f.direction).toBe(direction(i) === 0 ? 'to-target' : 'from-target');
    expect(f.data.length).toBe(size(i));
    for (let j = 0; j < f.data.length; j++)
      if (f.data[j] !== byte(i, j)) expect.fail(`chunk ${i} byte ${j}`);
  });
  // What follows the last whole frame is the start of the next one, intact.
  let at = data.indexOf(0x0a, RECORDING_MAGIC.length) + 1;
  for (const f of frames) at += 9 + f.data.length;
  const rest = data.subarray(at);
  const k = frames.length;
  expect(truncated).toBe(rest.length > 0);
  if (rest.length > 0) expect(rest[0]).toBe(direction(k));
  if (rest.length >= 9) expect(rest.readUInt32BE(5)).toBe(size(k));
  for (let j = 9; j < rest.length; j++)
    if (rest[j] !== byte(k, j - 9)) expect.fail(`cut chunk byte ${j - 9}`);
  return { frames: k, size: data.length };
}

function startChild(dir: string, prefix: string[] = []) {
  const script = path.join(dir, 'child.mjs');
  writeFileSync(script, CHILD);
  const file = path.join(dir, 's-1.rec');
  const module = path.join(CODE_ROOT, 'dist', 'src', 'sessions', 'recording.js');
  const [cmd, ...args] = [...prefix, process.execPath, script, module, file];
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, file, exited, out: () => out };
}

describe('recordings of a process that dies or cannot write', () => {
  let dir: string;
  let stop: (() => void) | undefined;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'recording-crash-'));
  });
  afterEach(() => {
    stop?.();
    stop = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves every byte up to the cut readable after SIGKILL mid-bulk', async () => {
    const { child, file, exited } = startChild(dir);
    stop = () => child.kill('SIGKILL');
    // 4 MiB written, then killed as it goes on.
    await until(() => statSync(file).size >= 4 * 1024 * 1024, 30_000, '4 MiB recorded');
    child.kill('SIGKILL');
    await exited;
    expect(child.signalCode).toBe('SIGKILL');
    const { frames, size: bytes } = checkRecording(file);
    expect(bytes).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(frames).toBeGreaterThan(100);
  });

  it('reports a failed disk write through onError and finish()', async () => {
    // The file size limit (not a multiple of a block) stops a write part-way, then EFBIG.
    const limit = 3 * 1024 * 1024 + 1234;
    const { child, file, exited, out } = startChild(dir, ['prlimit', `--fsize=${limit}`]);
    stop = () => child.kill('SIGKILL');
    await until(() => out().includes('finish rejected'), 30_000, 'the write error');
    expect(out()).toMatch(/^error EFBIG$/m);
    expect(out()).toMatch(/^finish rejected EFBIG$/m);
    // The file is closed once finish() gave up.
    expect(out()).toMatch(/^descriptors 0$/m);
    child.kill('SIGKILL');
    await exited;
    expect(statSync(file).size).toBe(limit);
    checkRecording(file);
  });
});
