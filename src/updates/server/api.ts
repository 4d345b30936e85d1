import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { APPLIANCE_AUTH_SCHEME, tokenFromAuthorization } from '../download-key.js';
import { availableFor, describePackage, packageFileName } from './catalogue.js';
import { contactAppliance } from './enrolment.js';
import type { UpdateServer } from './update-server.js';
import { parseRange } from './range.js';
import { damagedOnServer } from './integrity.js';
import type { PublishedPackage } from './store.js';
import { checkTicket } from './tickets.js';
import { updatesErrors } from '../error-codes.js';

/**
 * After a download completes, the appliance may still resume it with a Range request for this
 * long (its last bytes may have been lost in flight although the server sent them all); after
 * that a re-download needs the operator (S11).
 */
export const RESUME_GRACE_MS = 15 * 60_000;

const authRequired = () =>
  updatesErrors.DOWNLOAD_AUTH_REQUIRED(
    `Send "authorization: ${APPLIANCE_AUTH_SCHEME} <download key>" (what an appliance does), or use a download link from the download-key page.`,
    { headers: { 'www-authenticate': APPLIANCE_AUTH_SCHEME } },
  );

/** The appliance a request comes from: its token header, or (downloads only) a ticket. */
function applianceOf(
  server: UpdateServer,
  req: FastifyRequest,
  ticketFor?: string,
): { keyId: string; via: 'api' | 'download-key' } {
  const token = tokenFromAuthorization(req.headers.authorization);
  if (token)
    return {
      keyId: contactAppliance(server.store, token, { address: req.ip, log: req.log }).keyId,
      via: 'api',
    };
  const ticket = (req.query as Record<string, unknown>).ticket;
  if (ticketFor && typeof ticket === 'string') {
    const { keyId } = checkTicket(server.ticketSecret, ticket, ticketFor);
    if (!server.store.applianceByKey(keyId))
      throw updatesErrors.DOWNLOAD_TICKET_INVALID(
        'The appliance this download link was made for is no longer enrolled with this update server (its operator revoked or forgot it). Paste the Appliance Download Key on the download page again.',
      );
    return { keyId, via: 'download-key' };
  }
  throw authRequired();
}

export function registerApi(app: FastifyInstance, server: UpdateServer): void {
  app.get('/health', async () => ({ ok: true, packages: server.store.packages().length }));

  app.post('/api/v1/check', async (req) => {
    const token = tokenFromAuthorization(req.headers.authorization);
    if (!token) throw authRequired();
    const body = (req.body ?? {}) as Record<string, unknown>;
    const registrationToken =
      typeof body.registrationToken === 'string' ? body.registrationToken : undefined;
    const claims = contactAppliance(server.store, token, {
      address: req.ip,
      log: req.log,
      registrationToken,
    });
    const available = availableFor(server.store, claims).map(describePackage);
    req.log.info(
      {
        appliance: claims.appliance,
        product: claims.product,
        base: claims.base,
        available: available.length,
      },
      'check for updates',
    );
    return { appliance: claims.appliance, available };
  });

  app.get('/api/v1/packages/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!/^[0-9a-f]{64}$/.test(id))
      throw updatesErrors.PACKAGE_NOT_FOUND(
        `${id} is not a package id (the sha256 of a package, as /api/v1/check lists it).`,
      );
    const who = applianceOf(server, req, id);
    const pkg = server.store.package(id);
    if (!pkg)
      throw updatesErrors.PACKAGE_NOT_FOUND(
        `No package ${id} is published here. Check for updates again for the current list.`,
      );
    const rangeHeader = req.headers.range;
    const done = server.store.download(who.keyId, id);
    if (done && (!rangeHeader || Date.now() - done.at > RESUME_GRACE_MS)) {
      throw updatesErrors.PACKAGE_ALREADY_DOWNLOADED(
        `Appliance "${done.appliance}" already downloaded ${pkg.kind} ${pkg.version} (at ${new Date(done.at).toISOString()}). To download it again, ask the operator of this update server to reset that download (Reset on /admin, or \`gatehouse update-server reset --appliance ${done.appliance} --version ${pkg.version}\`).`,
      );
    }
    // A damaged stored copy would be refused by the appliance: send nothing, count nothing.
    const stored = await server.integrity.check(pkg);
    if (stored.state !== 'ok') {
      req.log.error({ package: pkg.sha256, problem: stored.problem }, 'stored package damaged');
      throw damagedOnServer(stored);
    }
    const range = parseRange(rangeHeader, pkg.size);
    const start = range?.start ?? 0;
    const end = range?.end ?? pkg.size - 1;
    reply
      .header('accept-ranges', 'bytes')
      .header('etag', `"${pkg.sha256}"`)
      .header('x-gatehouse-sha256', pkg.sha256)
      .header('content-disposition', `attachment; filename="${packageFileName(pkg)}"`)
      .header('content-length', String(end - start + 1))
      .type('application/octet-stream');
    if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${pkg.size}`);
    // The download counts once the last byte has been handed over in full (S11), and only if
    // the file sent was still the published package (a refused download is not a download).
    if (req.method === 'GET' && end === pkg.size - 1) {
      reply.raw.once('finish', () => {
        void recordIfIntact(server, req, who, pkg);
      });
    }
    return reply.send(createReadStream(server.dir.packageFile(id), { start, end }));
  });
}

/** Record a completed download, unless the stored file stopped being the published package. */
async function recordIfIntact(
  server: UpdateServer,
  req: FastifyRequest,
  who: { keyId: string; via: 'api' | 'download-key' },
  pkg: PublishedPackage,
): Promise<void> {
  try {
    const after = await server.integrity.check(pkg);
    if (after.state !== 'ok') {
      req.log.error({ package: pkg.sha256, problem: after.problem }, 'download not recorded');
      return;
    }
    server.store.recordDownload(who.keyId, pkg.sha256, who.via, Date.now());
    req.log.info({ keyId: who.keyId, package: pkg.sha256, via: who.via }, 'download recorded');
  } catch (err) {
    // E.g. the operator forgot the appliance meanwhile: nothing left to record it against.
    req.log.warn({ err, keyId: who.keyId, package: pkg.sha256 }, 'download not recorded');
  }
}
