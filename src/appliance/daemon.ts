import path from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { closeGracefully, listenOrExplain, type ServeOptions } from '../shared/http/server.js';
import { createLogger, openLogFile } from '../shared/logging.js';
import { SYSTEM } from '../shared/actor.js';
import { Appliance } from './context.js';
import { buildServer } from './server.js';
import { DataDir, readIdentity } from './datadir.js';
import { lockDataDir } from './lock.js';
import { rotationLimitsOf, type LogRotation } from './log-rotation.js';
import { EXIT_REBOOT, EXIT_RESTART } from './exit-codes.js';

/**
 * The appliance worker (`appliance run`, started by the supervisor of `appliance start`): open
 * its data directory, serve HTTPS, and stop cleanly on SIGTERM or SIGINT: stop accepting, let
 * in-flight requests finish, close the database. After an install it exits with the code that
 * tells the supervisor to start the new slot.
 */
export async function runAppliance(opts: ServeOptions): Promise<void> {
  readIdentity(new DataDir(opts.dataDir));
  const unlock = lockDataDir(opts.dataDir);
  let appliance: Appliance;
  try {
    appliance = await Appliance.open(opts.dataDir);
  } catch (e) {
    unlock();
    throw e;
  }
  const logFile = openLogFile(
    path.join(appliance.dir.logs, 'appliance.log'),
    appliance.identity.name,
    rotationLimitsOf(appliance.logRotation.current()),
  );
  const logger = createLogger({
    name: appliance.identity.name,
    file: logFile,
    level: opts.logLevel,
  });
  // The supervisor rotates its own file (supervisor.log) under the same setting.
  // Not once the supervisor is gone: a send on a closed channel is an uncaught error.
  const tellSupervisor = (r: LogRotation) => {
    if (process.connected) process.send?.({ type: 'log-rotation', rotation: r });
  };
  tellSupervisor(appliance.logRotation.current());
  appliance.logRotation.onChange((r) => {
    logFile.setLimits(rotationLimitsOf(r));
    tellSupervisor(r);
  });
  appliance.log = (msg, fields) => logger.info(fields ?? {}, msg);
  const ignored = appliance.logRotation.recordIgnored();
  if (ignored)
    logger.warn(
      { saved: ignored.saved, reason: ignored.reason, inForce: ignored.inForce },
      `saved log rotation setting (${ignored.savedText}) refused, the defaults are in force: ${ignored.reason}`,
    );
  const recovered = await appliance.sessionRecords.recoverInterrupted();
  if (recovered) logger.warn({ recovered }, 'sessions cut short by the last stop were recorded');
  const app = await buildServer(appliance, logger);
  appliance.clients.attach(app.server);
  await listenOrExplain(app, opts.listen, () => {
    appliance.close();
    unlock();
  });
  const onTrial = process.env.GATEHOUSE_TRIAL === '1';
  if (onTrial) appliance.writeGate = 'verifying';
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.listen.port;
  appliance.sharedListeners.attach(app.server as unknown as TlsServer, port);
  for (const f of await appliance.sharedListeners.reconcile(appliance.network.list()))
    logger.warn({ address: f.address }, `shared address not served: ${f.reason}`);
  // A stored configuration that no longer parses (a tightened schema) must not keep the
  // appliance from starting: the address moves then fail with the same clear error.
  await appliance.traffic.readyShared().catch((e: Error) => {
    logger.warn({ reason: e.message }, `traffic switch configuration not usable: ${e.message}`);
    appliance.events.record(
      SYSTEM,
      'traffic.config-invalid',
      'traffic-switch',
      { reason: e.message },
      'failed',
    );
  });
  appliance.listenAddress = { host: opts.listen.host, port };
  appliance.ready = true;
  appliance.startSyslog();
  appliance.cluster.start();
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  appliance.events.record(SYSTEM, 'appliance.started', appliance.identity.name, {
    listen: `${host}:${port}`,
    productVersion: appliance.productVersion,
  });
  logger.info(
    {
      url: `https://${host}:${port}`,
      fingerprint: appliance.certificateFingerprint,
      siteCa: appliance.siteIdentity.fingerprint,
      productVersion: appliance.productVersion,
      baseVersion: appliance.baseVersion,
    },
    `listening on https://${host}:${port} — TLS certificate SHA-256 fingerprint ${appliance.certificateFingerprint}; site CA (what clients pin) ${appliance.siteIdentity.fingerprint}`,
  );

  let stopping = false;
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    appliance.ready = false;
    await closeGracefully(app, logger, signal, async () => {
      appliance.sharedListeners.closeAll();
      // Sessions end here: their recordings and records are written before the database closes.
      await appliance.clients.close();
    });
    appliance.events.record(SYSTEM, 'appliance.stopped', appliance.identity.name, { signal });
    appliance.close();
    unlock();
    logger.info('stopped');
    logger.flush();
    process.exitCode = exitCode;
    // The IPC channel to the supervisor would keep the process alive.
    if (process.connected) process.disconnect();
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  appliance.onRestartRequested = (kind) =>
    void stop(`${kind} update installed`, kind === 'base' ? EXIT_REBOOT : EXIT_RESTART);
  if (process.send) {
    process.on('message', (m: { type?: string }) => {
      if (m?.type === 'update-committed') appliance.updateCommitted();
    });
    // The supervisor is gone (killed): an orphaned worker must not serve on its own.
    process.on('disconnect', () => void stop('supervisor exited'));
  }
  appliance.recordUpdateOutcome();
  appliance.updateService.startAutomatic((msg, err) =>
    err ? logger.warn({ err }, msg) : logger.info(msg),
  );
  if (!onTrial) {
    appliance.updates
      .cleanUp()
      .catch((err: unknown) => logger.warn({ err }, 'update clean-up failed'));
  }
}
