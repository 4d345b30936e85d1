import { createReadStream } from 'node:fs';
import type { FastifyReply } from 'fastify';
import type { Actor } from '../../shared/actor.js';

import { compareVersions } from '../../shared/version.js';
import { operationsOf } from '../../shared/http/operations.js';
import type { UpdatesOperation } from './api.js';
import type { UpdatesSite } from './site.js';
import { updatesErrors } from '../error-codes.js';

const op = operationsOf<UpdatesSite>({ area: 'public', tag: 'clients' });

/**
 * Console builds (S12, S13): a console follows the site, so it downloads the signed product
 * package of the version the site runs. Product packages stay staged after they are installed,
 * so the builds of earlier versions remain available too (old installers are kept).
 */
function productBuilds(appliance: UpdatesSite) {
  return appliance.updates
    .staged()
    .filter((s) => s.kind === 'product')
    .sort((a, b) => compareVersions(b.version, a.version));
}

function siteConsoleBuild(appliance: UpdatesSite) {
  const build = productBuilds(appliance).find((s) => s.version === appliance.productVersion);
  if (!build)
    throw updatesErrors.CONSOLE_BUILD_NOT_AVAILABLE(
      `The site runs ${appliance.productVersion} but holds no product package of that version to give consoles and Jump Clients. An appliance administrator should upload the product package ${appliance.productVersion} on /appliance > Updates (Manual Installation); it is kept as the console build.`,
    );
  return build;
}

export const consoleBuildOperations: UpdatesOperation[] = [
  op('consoleBuilds', 'GET /api/client/console/builds', {
    clientTicket: (appliance, req) => void appliance.consoleTicket(req),
    summary:
      "The site's version and the console builds it holds (the signed product packages kept on the appliance), newest first",
    response: { status: 200, description: 'Console builds' },
    handler: ({ appliance, req }) => {
      appliance.consoleTicket(req);
      return {
        siteVersion: appliance.productVersion,
        builds: productBuilds(appliance).map((s) => ({
          version: s.version,
          size: s.size,
          sha256: s.sha256,
          current: s.version === appliance.productVersion,
        })),
      };
    },
  }),
  op('consoleBuild', 'GET /api/client/console/build', {
    clientTicket: (appliance, req) => void appliance.consoleTicket(req),
    summary:
      'Download the console build of the version the site runs: its signed product package, which the console verifies with its release keys before it installs it (S12)',
    response: {
      status: 200,
      description: 'Signed product package',
      contentType: 'application/octet-stream',
    },
    handler: ({ appliance, req, reply }) => {
      const user = appliance.consoleTicket(req);
      return sendBuild(appliance, reply, 'console', { area: 'login', name: user.sub, ip: req.ip });
    },
  }),
  op('jumpClientBuild', 'GET /api/client/jump-clients/build', {
    clientTicket: (appliance, req) => void appliance.jumpClientTicket(req),
    summary:
      "Download the Jump Client build of the version the site runs (its signed product package): a Jump Client asked to upgrade in its wave verifies it with its installation's release keys and replaces itself (S13)",
    response: {
      status: 200,
      description: 'Signed product package',
      contentType: 'application/octet-stream',
    },
    handler: ({ appliance, req, reply }) => {
      const client = appliance.jumpClientTicket(req);
      return sendBuild(appliance, reply, 'jump-client', {
        area: 'login',
        name: `jump-client:${client.sub}`,
        ip: req.ip,
      });
    },
  }),
];

function sendBuild(
  appliance: UpdatesSite,
  reply: FastifyReply,
  client: 'console' | 'jump-client',
  actor: Actor,
) {
  const build = siteConsoleBuild(appliance);
  appliance.events.record(actor, `${client}.build-downloaded`, build.version);
  return reply
    .header('content-type', 'application/octet-stream')
    .header('content-length', String(build.size))
    .header('x-gatehouse-version', build.version)
    .header(
      'content-disposition',
      `attachment; filename="gatehouse-${client}-${build.version}.ghpkg"`,
    )
    .send(createReadStream(appliance.updates.stagedFile(build.id)));
}
