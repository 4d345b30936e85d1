import path from 'node:path';
import { GatehouseError } from '../shared/errors.js';
import { createLogger } from '../shared/logging.js';
import { SYSTEM } from '../site/actor.js';
import { Appliance } from './context.js';
import { buildServer } from './server.js';
import { DataDir, readIdentity } from './datadir.js';
import { lockDataDir } from './lock.js';

export interface StartOptions {
  dataDir: string;
  listen: { host: string; port: number };
  logLevel?: string;
}

/**
 * Run one appliance: open its data directory, serve HTTPS, and stop cleanly on SIGTERM or
 * SIGINT: stop accepting, let in-flight requests finish, close the database.
 */
export async function startAppliance(opts: StartOptions): Promise<void> {
  readIdentity(new DataDir(opts.dataDir));
  const unlock = lockDataDir(opts.dataDir);
  let appliance: Appliance;
  try {
    appliance = await Appliance.open(opts.dataDir);
  } catch (e) {
    unlock();
    throw e;
  }
  const logger = createLogger({
    name: appliance.identity.name,
    file: path.join(appliance.dir.logs, 'appliance.log'),
    level: opts.logLevel,
  });
  const app = await buildServer(appliance, logger);
  try {
    await app.listen({ host: opts.listen.host, port: opts.listen.port });
  } catch (e) {
    appliance.close();
    unlock();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
      throw new GatehouseError(
        'LISTEN_FAILED',
        400,
        `--listen ${opts.listen.host}:${opts.listen.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use by another process' : err.code === 'EACCES' ? 'not permitted (ports below 1024 need privileges)' : 'the address is not on this machine'}. Choose another address or port.`,
      );
    }
    throw e;
  }
  appliance.ready = true;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.listen.port;
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  appliance.events.record(SYSTEM, 'appliance.started', appliance.identity.name, {
    listen: `${host}:${port}`,
    productVersion: appliance.productVersion,
  });
  logger.info(
    {
      url: `https://${host}:${port}`,
      fingerprint: appliance.certificateFingerprint,
      productVersion: appliance.productVersion,
      baseVersion: appliance.baseVersion,
    },
    `listening on https://${host}:${port} — TLS certificate SHA-256 fingerprint ${appliance.certificateFingerprint}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    appliance.ready = false;
    logger.info({ signal }, 'stopping: finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('in-flight requests did not finish within 30 s; closing anyway');
      process.exit(1);
    }, 30_000);
    force.unref();
    // A keep-alive connection whose request finishes after close() began would stay open;
    // sweep idle connections until the server is closed.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    await app.close();
    clearInterval(sweep);
    appliance.events.record(SYSTEM, 'appliance.stopped', appliance.identity.name, { signal });
    appliance.close();
    unlock();
    logger.info('stopped');
    logger.flush();
    process.exitCode = 0;
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
