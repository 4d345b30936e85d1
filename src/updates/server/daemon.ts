import { readFileSync } from 'node:fs';
import { certificateFingerprint } from '../../shared/tls.js';
import { closeGracefully, listenOrExplain, type ServeOptions } from '../../shared/http/server.js';
import { createLogger } from '../../shared/logging.js';
import { UpdateServerDir } from './data-dir.js';
import { describeDamage, REPAIR_ADVICE } from './integrity.js';
import { buildUpdateServer } from './http.js';
import { UpdateServer } from './update-server.js';
import { UpdateStore } from './store.js';

/**
 * Serve an update server until SIGTERM or SIGINT: then stop accepting, let in-flight requests
 * (downloads included, up to 30 s) finish and close the database.
 */
export async function startUpdateServer(opts: ServeOptions): Promise<void> {
  const dir = new UpdateServerDir(opts.dataDir);
  dir.requireInitialised();
  const store = UpdateStore.open(dir.database);
  const logger = createLogger({ name: 'update-server', level: opts.logLevel });
  const server = new UpdateServer(dir, store);
  const app = await buildUpdateServer(server, logger);
  await listenOrExplain(app, opts.listen, () => store.close());
  const address = app.server.address();
  // Said at start, so that an operator reads it before an appliance is refused a download.
  for (const line of describeDamage(await server.integrity.checkAll(store.packages())))
    logger.error(`stored package not as published: ${line}. To repair: ${REPAIR_ADVICE}`);
  const port = typeof address === 'object' && address ? address.port : opts.listen.port;
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  const url = `https://${host}:${port}`;
  const fingerprint = certificateFingerprint(readFileSync(dir.tlsCert, 'utf8'));
  logger.info(
    { url, fingerprint, packages: store.packages().length },
    `update server listening on ${url} — TLS certificate SHA-256 fingerprint ${fingerprint}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    await closeGracefully(app, logger, signal);
    store.close();
    logger.info('stopped');
    logger.flush();
    process.exitCode = 0;
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
