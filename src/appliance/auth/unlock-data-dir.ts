import { readIdentity, DataDir } from '../datadir.js';
import { openDatabase } from '../../store/db.js';
import { EventLog } from '../../site/events.js';
import type { Area } from '../../shared/http/operations.js';
import { unlockSignIns } from './unlock.js';

/** `gatehouse appliance unlock`: on the data directory's database, running appliance or not. */
export function unlockDataDir(root: string, opts: { area?: Area; username?: string }): string[] {
  const dir = new DataDir(root);
  const identity = readIdentity(dir);
  const db = openDatabase(dir.database);
  try {
    return unlockSignIns(db, new EventLog(db, identity.name), opts);
  } finally {
    db.close();
  }
}
