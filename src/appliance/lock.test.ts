import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { until } from '../shared/until.js';
import { lockDataDir } from './lock.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-lock-'));
// `sh` starts a child that exits at once, then becomes `sleep`, which never reaps it: the
// child stays a zombie for as long as the sleep runs, as a SIGKILLed worker does under an
// init that reaps late.
const parent = spawn('sh', ['-c', 'true & exec sleep 30'], { stdio: 'ignore' });
afterAll(() => {
  parent.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('takes over a lock whose owner is a zombie, and refuses one whose owner runs', async () => {
  const zombie = await until(
    () => {
      const kids = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim();
      return kids && readFileSync(`/proc/${kids}/stat`, 'utf8').includes(') Z ') ? kids : undefined;
    },
    10_000,
    'a zombie child of sleep',
  );

  writeFileSync(path.join(dir, 'appliance.lock'), zombie);
  const unlock = lockDataDir(dir);
  expect(readFileSync(path.join(dir, 'appliance.lock'), 'utf8')).toBe(String(process.pid));
  unlock();

  writeFileSync(path.join(dir, 'appliance.lock'), String(parent.pid));
  expect(() => lockDataDir(dir)).toThrow(
    expect.objectContaining({ code: 'DATA_DIR_IN_USE' }) as Error,
  );
});
