import path from 'node:path';

/** Open an initialised data directory's database for one command, and close it after. */
export async function withStore<T>(
  dataDir: string,
  fn: (ctx: {
    dir: import('../updates/server/data-dir.js').UpdateServerDir;
    store: import('../updates/server/store.js').UpdateStore;
  }) => Promise<T> | T,
): Promise<T> {
  const { UpdateServerDir } = await import('../updates/server/data-dir.js');
  const { UpdateStore } = await import('../updates/server/store.js');
  const dir = new UpdateServerDir(path.resolve(dataDir));
  dir.requireInitialised();
  const store = UpdateStore.open(dir.database);
  try {
    return await fn({ dir, store });
  } finally {
    store.close();
  }
}

export const DATA_DIR = '--data-dir <dir>';
export const DATA_DIR_HELP = 'the update server data directory made by `update-server init`';
