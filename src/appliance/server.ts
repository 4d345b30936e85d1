import type { FastifyError, FastifyInstance, FastifyPluginOptions, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import type { Logger } from 'pino';
import { GatehouseError } from '../shared/errors.js';
import { createHttpsServer } from '../shared/http/server.js';
import { changeNotConfirmed, isSiteChange, takeConfirmation } from './upgrade-notice.js';
import type { Appliance } from './context.js';
import { applianceOperations } from './http/api-appliance.js';
import { updatesHttp } from '../updates/http/plugin.js';
import { loginOperations } from './http/api-login.js';
import { siteHttp } from '../site/http/plugin.js';
import type { SiteDataSite } from '../site/http/site.js';
import { syslogHttp } from '../syslog/http/plugin.js';
import type { SyslogSite } from '../syslog/http/site.js';
import { failoverAcknowledgement, failoverHttp } from '../failover/http/plugin.js';
import { hiddenOnBackup, readOnlyOnBackup } from '../failover/http/backup-guard.js';
import type { FailoverSite } from '../failover/http/site.js';
import { trafficHttp } from '../traffic/http/plugin.js';
import { sessionOperations } from './http/api-session.js';
import { clientsHttp } from '../sessions/http/clients-plugin.js';
import { jumpClientsHttp } from '../sessions/http/plugin.js';
import { clusterHttp } from '../cluster/http/plugin.js';
import { monitoringOperations } from './http/api-monitoring.js';
import { createMetrics } from '../monitoring/metrics.js';
import { registerMonitoring } from '../monitoring/plugin.js';
import { monitoredAppliance } from './monitoring.js';
import { requireApiSession } from './http/auth.js';
import {
  openApiDocument,
  registerOperations,
  type AnyOperation,
  type Area,
} from '../shared/http/operations.js';
import type { ApplianceOperation } from './http/operation.js';
import type { DomainHttp } from '../shared/web/domain-http.js';
import { registerWebConsole } from './web/routes.js';
import { pageHost } from './web/page-host.js';
import { applianceErrors } from './error-codes.js';
import { updatesErrors } from '../updates/error-codes.js';

/** The operations wired here that need no guard (the domains' plugins register their own). */
const OPERATIONS: ApplianceOperation[] = [
  ...sessionOperations('appliance'),
  ...applianceOperations,
  ...sessionOperations('login'),
  ...loginOperations,
  ...monitoringOperations,
];

/** What the failover pages and admin API see of the appliance. */
const failoverSite = (appliance: Appliance): FailoverSite => ({
  failover: appliance.failover,
  name: appliance.identity.name,
  certificateFingerprint: appliance.certificateFingerprint,
  acceptsClients: () => appliance.acceptsClients,
  uniqueAddress: () => appliance.traffic.uniqueAddress(),
  listenPort: () => appliance.sharedListeners.listenPort,
});

/** What the site's own sections see of the appliance. */
const siteDataSite = (appliance: Appliance): SiteDataSite => ({
  name: appliance.identity.name,
  db: appliance.db,
  users: appliance.users,
  settings: appliance.settings,
  files: appliance.files,
  events: appliance.events,
  interApplianceKey: appliance.interApplianceKey,
});

/** What Management > Syslog sees: the forwarder exists once the daemon started it. */
const syslogSite = (appliance: Appliance): SyslogSite => ({
  syslogSettings: appliance.syslogSettings,
  get syslog() {
    return appliance.syslog;
  },
});

/** Build the HTTPS server of one appliance: health, OpenAPI, the API and the web console. */
export async function buildServer(appliance: Appliance, logger: Logger): Promise<FastifyInstance> {
  const app = await createHttpsServer({
    tlsKeyFile: appliance.dir.tlsKey,
    tlsCertFile: appliance.dir.tlsCert,
    logger,
    bodyLimit: 1024 * 1024,
    referrerPolicy: 'same-origin',
    contentSecurityPolicy:
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'",
    serverName: 'The appliance',
    logsWhere: 'in the appliance log',
    notFoundHint: 'The API is described at /api/openapi.json.',
    errorPage,
    explain: explainBodyError,
    // Clients that pin the site certificate authority ask for its name (S20).
    contextFor: (name) => appliance.siteIdentity.contextFor(name),
  });
  await app.register(multipart, {
    limits: { fields: 20, files: 1, fileSize: 64 * 1024 * 1024 * 1024 },
  });
  // Uploads (files, backups) are streamed to disk by their handler, never buffered.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) =>
    done(null, payload),
  );

  // Changes wait while an update is installed or verified (see Appliance.writeGate).
  const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
  const SIGN_IN = /^\/(api\/)?(appliance|login)\/(session|sign-in)$/;
  app.addHook('onRequest', async (req, reply) => {
    if (READS.has(req.method)) return;
    // Signing in stays possible: at worst a rollback forgets the session and asks again.
    if (appliance.writeGate && !SIGN_IN.test(req.url.split('?')[0]!)) {
      // An update being installed answers 503 here (a change waits), 409 where one is asked for.
      // Clients (Jump Clients, session legs: /api/client/) follow the install that moved them
      // and are told to come back in 2 s, the pace they keep until it restarts; an
      // administrator's change is told 30 s.
      const client = req.url.startsWith('/api/client/');
      throw appliance.writeGate === 'installing'
        ? updatesErrors.UPDATE_IN_PROGRESS(
            client
              ? 'The appliance is installing a software update and restarts in a few seconds. Retry shortly; nothing was changed.'
              : 'The appliance is installing a software update and accepts no changes until it has restarted. Retry in a minute; nothing was changed.',
            { headers: { 'retry-after': client ? '2' : '30' }, status: 503 },
          )
        : updatesErrors.UPDATE_VERIFYING(
            'The appliance is verifying newly installed software and accepts changes again in a few seconds. Retry shortly; nothing was changed.',
            { headers: { 'retry-after': '2' } },
          );
    }
    // S23: the old primary during an upgrade; its site data is overwritten at the next sync.
    const upgrading = appliance.upgradeNotice.get();
    if (
      upgrading &&
      isSiteChange(req.method, req.url.split('?')[0]!) &&
      !takeConfirmation(req.headers, req.query)
    )
      throw changeNotConfirmed(upgrading);
    appliance.inflightWrites++;
    (req as { countedWrite?: boolean }).countedWrite = true;
    // Whatever ends the exchange (a response sent, the client gone mid-response, the connection
    // destroyed), the write stops counting, or an install would wait for it for ever.
    reply.raw.once('close', () => void uncount(req));
  });
  const uncount = async (req: object) => {
    const r = req as { countedWrite?: boolean };
    if (!r.countedWrite) return;
    r.countedWrite = false;
    appliance.inflightWrites--;
  };
  app.addHook('onResponse', uncount);
  await app.register(failoverAcknowledgement, { failover: appliance.failover });
  app.addHook('onRequestAbort', uncount);
  const health = () => ({
    name: appliance.identity.name,
    role: appliance.role,
    productVersion: appliance.productVersion,
    baseVersion: appliance.baseVersion,
    ready: appliance.ready,
    update: appliance.writeGate ?? null,
    uptimeSeconds: Math.round((Date.now() - appliance.startedAt) / 1000),
  });
  app.get('/health', async (_req, reply) => reply.code(appliance.ready ? 200 : 503).send(health()));
  // For a load balancer as the traffic switch (as Patroni's /primary and /replica): 200 only
  // where the site's clients belong (the primary, or a standalone appliance that is not a
  // traffic node), and on the backup; 503 elsewhere and while not ready.
  app.get('/health/primary', async (_req, reply) => {
    const s = appliance.standing;
    // A former backup left standalone by a broken relationship gets no clients until the site
    // is switched to it (src/traffic/load-balancer.ts).
    const primary =
      s.failover !== 'backup' &&
      s.cluster !== 'traffic-node' &&
      !appliance.failover.fenced() &&
      appliance.loadBalancer.serves();
    return reply.code(appliance.ready && primary ? 200 : 503).send(health());
  });
  app.get('/health/backup', async (_req, reply) =>
    reply.code(appliance.ready && appliance.role === 'backup' ? 200 : 503).send(health()),
  );

  // The OpenAPI document lists OPERATIONS and those of each domain plugin registered below, as
  // the plugins declare them (DomainHttp): no second list to keep in step.
  const described: AnyOperation[] = [...OPERATIONS];
  const use = async <O extends FastifyPluginOptions>(plugin: DomainHttp<O>, opts: O) => {
    described.push(...plugin.operations);
    await app.register(plugin, opts);
  };
  let document: ReturnType<typeof openApiDocument> | undefined;
  // Like every route but sign-in, health and static assets, the API description needs a
  // session: of either area, since both areas' operations are in it.
  app.get('/api/openapi.json', async (req) => {
    try {
      requireApiSession(appliance, 'appliance', req);
    } catch {
      requireApiSession(appliance, 'login', req);
    }
    return (document ??= openApiDocument(described, appliance.productVersion));
  });

  registerMonitoring(app, {
    metrics: createMetrics(monitoredAppliance(appliance)),
    tokens: appliance.scrapeTokens,
  });
  const authenticate = (area: Area, req: FastifyRequest) => requireApiSession(appliance, area, req);
  registerOperations(app, { context: appliance, authenticate }, OPERATIONS);
  const signedIn = (req: FastifyRequest) => {
    try {
      return !!requireApiSession(appliance, 'login', req);
    } catch {
      return false;
    }
  };
  await use(clientsHttp, { site: appliance, authenticate });
  // The site's data is changed on the primary only: a failover backup receives it by sync.
  await use(siteHttp, {
    pages: { ...pageHost(appliance), context: siteDataSite(appliance) },
    authenticate,
    apiGuard: readOnlyOnBackup(appliance.failover, signedIn),
    pageGuard: hiddenOnBackup(appliance.failover),
  });
  await use(syslogHttp, {
    pages: { ...pageHost(appliance), context: syslogSite(appliance) },
    authenticate,
    apiGuard: readOnlyOnBackup(appliance.failover, signedIn),
    pageGuard: hiddenOnBackup(appliance.failover),
  });
  await use(jumpClientsHttp, {
    pages: pageHost(appliance),
    authenticate,
    apiGuard: readOnlyOnBackup(appliance.failover, signedIn),
    pageGuard: hiddenOnBackup(appliance.failover),
  });
  const peerHost = {
    context: appliance,
    interApplianceKey: () => appliance.interApplianceKey.get(),
  };
  await use(failoverHttp, {
    pages: { ...pageHost(appliance), context: failoverSite(appliance) },
    authenticate,
    peer: peerHost,
  });
  await use(trafficHttp, {
    pages: {
      ...pageHost(appliance),
      context: { traffic: appliance.traffic, loadBalancer: appliance.loadBalancer },
    },
    authenticate,
  });
  await use(updatesHttp, { pages: pageHost(appliance), authenticate });
  await use(clusterHttp, {
    pages: pageHost(appliance),
    authenticate,
    pageGuard: hiddenOnBackup(appliance.failover),
    peer: peerHost,
  });
  registerWebConsole(app, appliance);
  return app;
}

/** The request bodies the appliance cannot read, in words that say what to send instead. */
function explainBodyError(err: FastifyError, req: FastifyRequest): GatehouseError | undefined {
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return applianceErrors.BODY_NOT_JSON(
      'body: is not valid JSON. Send a JSON object with Content-Type: application/json.',
      { fields: [{ field: 'body', message: 'is not valid JSON' }] },
    );
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return applianceErrors.BODY_TOO_LARGE(
      'body: is larger than 1 MiB. Send uploads as application/octet-stream to the upload endpoints.',
    );
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return updatesErrors.UNSUPPORTED_MEDIA_TYPE(
      `Content-Type ${req.headers['content-type'] ?? '(none)'} is not accepted here. Send application/json, or application/octet-stream for uploads.`,
    );
  }
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return applianceErrors.BODY_EMPTY('body: is empty. Send a JSON object.', {
      fields: [{ field: 'body', message: 'is empty' }],
    });
  }
  return undefined;
}

function errorPage(error: GatehouseError): string {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><meta charset="utf-8"><title>${esc(error.code)}</title><link rel="stylesheet" href="/static/style.css"><main class="error-page"><h1>${error.status} — ${esc(error.code)}</h1><p>${esc(error.message)}</p><p><a href="/">Back to the start page</a></p></main>`;
}
