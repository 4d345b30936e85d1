import { createReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { Actor } from '../../shared/actor.js';

import { installerHeader } from '../jump-client-installer.js';
import type { UpdatesSite } from './site.js';
import { sharedErrors } from '../../shared/error-codes.js';

export const CLIENTS = ['console', 'jump-client'] as const;
export type ClientKind = (typeof CLIENTS)[number];

/**
 * S13: the installer of a staged product version, before the appliance runs it. The console's
 * is its signed product package (docs/clients.md); the Jump Client's carries the site it
 * connects to before the package (src/updates/jump-client-installer.ts), so an installation
 * needs no address or fingerprint typed on the remote computer.
 */
export function sendClientInstaller(
  appliance: UpdatesSite,
  reply: FastifyReply,
  o: { id: string; client: string; actor: Actor; requestHost: string },
) {
  const s = appliance.updates.get(o.id);
  if (!(CLIENTS as readonly string[]).includes(o.client) || s.kind !== 'product')
    throw sharedErrors.NOT_FOUND(
      `Client installers are 'console' and 'jump-client' of a staged product package; ${s.kind} ${s.version} has no '${o.client}' installer.`,
    );
  appliance.events.record(o.actor, 'updates.installer-downloaded', `${o.client} ${s.version}`);
  const pkg = createReadStream(appliance.updates.stagedFile(s.id));
  if (o.client === 'console')
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="gatehouse-console-${s.version}.ghpkg"`)
      .send(pkg);
  const body = new PassThrough();
  body.write(
    installerHeader({
      format: 1,
      client: 'jump-client',
      version: s.version,
      site: appliance.installerSite(o.requestHost),
      createdAt: new Date().toISOString(),
    }),
  );
  pkg.on('error', (e) => body.destroy(e));
  pkg.pipe(body);
  return reply
    .header('content-type', 'application/octet-stream')
    .header('content-disposition', `attachment; filename="gatehouse-jump-client-${s.version}.ghjc"`)
    .send(body);
}
