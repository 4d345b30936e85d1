import { readFileSync } from 'node:fs';
import type { SecureContext } from 'node:tls';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import cookie from '@fastify/cookie';
import type { Logger } from 'pino';
import { GatehouseError, isGatehouseError } from '../errors.js';
import { registerFormBody } from '../form-body.js';
import { recordRoutes } from './route-list.js';
import { sharedErrors } from '../error-codes.js';

/**
 * How a server process is started (`appliance start`, `appliance run`, `update-server start`):
 * its data directory, its listen address (port 0: a free one) and its pino log level.
 */
export interface ServeOptions {
  dataDir: string;
  listen: { host: string; port: number };
  /** info when absent */
  logLevel?: string;
}

/**
 * What differs between Gatehouse's HTTPS servers (the appliance, the update server); the rest
 * of their set-up is one: TLS 1.2+, cookies and forms, security headers, one log line per
 * request, errors as problem+json (or an HTML page for browsers) with a stable code.
 */
export interface HttpsServerOptions {
  tlsKeyFile: string;
  tlsCertFile: string;
  logger: Logger;
  bodyLimit: number;
  referrerPolicy: string;
  contentSecurityPolicy: string;
  /** Who could not complete a request, in the 500 answer: "The appliance", "The update server". */
  serverName: string;
  /** Where the logs are, in the 500 answer: "in the appliance log". */
  logsWhere: string;
  /** What a 404 answer points to after "Nothing is at METHOD PATH.". */
  notFoundHint: string;
  /** The error page a browser gets (the request accepts text/html and is not under /api/). */
  errorPage: (error: GatehouseError) => string;
  /** A framework error this server explains in its own words (e.g. a body it cannot parse). */
  explain?: (err: FastifyError, req: FastifyRequest) => GatehouseError | undefined;
  /** The certificate for a TLS server name the client asked for; else the default above. */
  contextFor?: (servername: string) => SecureContext | undefined;
}

export async function createHttpsServer(opts: HttpsServerOptions): Promise<FastifyInstance> {
  // The HTTPS server's types differ from the plain one only in the raw server; routes do not care.
  const app = Fastify({
    https: {
      key: readFileSync(opts.tlsKeyFile),
      cert: readFileSync(opts.tlsCertFile),
      minVersion: 'TLSv1.2',
      ...(opts.contextFor
        ? {
            SNICallback: (name: string, cb: (e: Error | null, c?: SecureContext) => void) =>
              cb(null, opts.contextFor!(name)),
          }
        : {}),
    },
    loggerInstance: opts.logger,
    // One line per request, written by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
    bodyLimit: opts.bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;

  recordRoutes(app);
  await app.register(cookie);
  registerFormBody(app);

  app.addHook('onRequest', async (_req, reply) => {
    reply.header('strict-transport-security', 'max-age=31536000');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', opts.referrerPolicy);
    reply.header('content-security-policy', opts.contentSecurityPolicy);
  });
  app.addHook('onResponse', async (req, reply) => {
    // Never the query string: download links carry tickets.
    req.log.info(
      {
        method: req.method,
        url: req.routeOptions.url ?? req.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const error = asGatehouseError(err, req, opts);
    if (error.status >= 500 && isGatehouseError(err))
      req.log.error({ code: error.code, msg: error.message }, 'request failed');
    const path = req.url.split('?')[0]!;
    if (
      path.startsWith('/api/') ||
      path === '/health' ||
      !req.headers.accept?.includes('text/html')
    ) {
      void reply
        .code(error.status)
        .headers(error.headers)
        .type('application/problem+json')
        .send(error.toProblem(path));
      return;
    }
    void reply
      .code(error.status)
      .headers(error.headers)
      .type('text/html; charset=utf-8')
      .send(opts.errorPage(error));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const error = sharedErrors.NOT_FOUND(
      `Nothing is at ${req.method} ${path}. ${opts.notFoundHint}`,
    );
    void reply.code(404).type('application/problem+json').send(error.toProblem(path));
  });
  return app;
}

function asGatehouseError(
  err: FastifyError,
  req: FastifyRequest,
  opts: HttpsServerOptions,
): GatehouseError {
  if (isGatehouseError(err)) return err;
  const explained = opts.explain?.(err, req);
  if (explained) return explained;
  if (typeof err.statusCode === 'number' && err.statusCode < 500)
    return new GatehouseError(err.code ?? 'BAD_REQUEST', err.statusCode, err.message);
  req.log.error({ err }, 'unhandled error');
  return sharedErrors.INTERNAL_ERROR(
    `${opts.serverName} could not complete the request; nothing was changed. Details are ${opts.logsWhere}.`,
  );
}

/**
 * Listen on `listen`, or explain why not as LISTEN_FAILED naming --listen (after `cleanUp`,
 * which releases what the server had opened).
 */
export async function listenOrExplain(
  app: FastifyInstance,
  listen: { host: string; port: number },
  cleanUp: () => void,
): Promise<void> {
  try {
    await app.listen({ host: listen.host, port: listen.port });
  } catch (e) {
    cleanUp();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
      const why =
        err.code === 'EADDRINUSE'
          ? 'the port is in use by another process'
          : err.code === 'EACCES'
            ? 'not permitted (ports below 1024 need privileges)'
            : 'the address is not on this machine';
      throw sharedErrors.LISTEN_FAILED(
        `--listen ${listen.host}:${listen.port}: ${why}. Choose another address or port.`,
        { fields: [{ field: 'listen', message: 'cannot listen there' }] },
      );
    }
    throw e;
  }
}

/**
 * Close a server and let its in-flight requests finish: after 30 s the process exits 1 rather
 * than wait for ever. `first` runs before the server closes (listeners that feed it, sessions
 * to end). A keep-alive connection whose request finishes after close() began would stay open,
 * so idle connections are swept until the server is closed.
 */
export async function closeGracefully(
  app: FastifyInstance,
  logger: Logger,
  signal: string,
  first?: () => Promise<void>,
): Promise<void> {
  logger.info({ signal }, 'stopping: finishing in-flight requests');
  const force = setTimeout(() => {
    logger.warn('in-flight requests did not finish within 30 s; closing anyway');
    process.exit(1);
  }, 30_000);
  force.unref();
  await first?.();
  const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
  await app.close();
  clearInterval(sweep);
}
