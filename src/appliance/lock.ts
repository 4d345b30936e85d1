import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

import { pidAlive } from '../shared/liveness.js';
import { applianceErrors } from './error-codes.js';

/**
 * One process per data directory: two appliances writing one database would corrupt the
 * site's state. The lock file holds the owner's pid; a lock left by a dead process (kill -9,
 * a zombie included) is taken over.
 */
export function lockDataDir(root: string, lockName = 'appliance.lock'): () => void {
  const file = path.join(root, lockName);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && pidAlive(owner)) {
        throw applianceErrors.DATA_DIR_IN_USE(
          `--data-dir ${root} is already served by process ${owner}. Stop that appliance first (kill -TERM ${owner}), or start another data directory.`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw applianceErrors.DATA_DIR_IN_USE(
    `Could not lock ${file}; another appliance is starting on it.`,
  );
}
