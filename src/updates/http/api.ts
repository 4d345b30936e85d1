import { z } from 'zod';

import { AutomaticUpdates, InstallSafety, UpdateServerConfig } from '../update-settings.js';
import { operationsOf, type Operation } from '../../shared/http/operations.js';
import type { UpdatesSite } from './site.js';
import { CLIENTS, sendClientInstaller } from './client-installers.js';
import { updatesErrors } from '../error-codes.js';

/** An operation of the updates domain: its handler sees the appliance as `UpdatesSite`. */
export type UpdatesOperation = Operation<unknown, unknown, unknown, UpdatesSite>;
const op = operationsOf<UpdatesSite>({ area: 'appliance', tag: 'updates' });

const IdParams = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/, 'must be the package id (its sha256, 64 hex digits)'),
});
const InstallerParams = IdParams.extend({
  client: z.enum(CLIENTS, { message: "must be 'console' or 'jump-client'" }),
});
const InstallBody = z
  .object({
    force: z.boolean({ message: 'must be true or false' }).default(false),
    kind: z.enum(['base', 'product'], { message: "must be 'base' or 'product'" }).optional(),
  })
  .strict()
  .default({ force: false });
export const KeyBody = z
  .object({
    ttlHours: z
      .number({ message: 'must be a number of hours' })
      .int('must be a whole number of hours')
      .min(1, 'must be at least 1 hour')
      .max(24 * 30, 'must be at most 720 hours (30 days)')
      .default(72),
  })
  .strict()
  .default({ ttlHours: 72 });
const BackupParams = z.object({ name: z.string().max(200) });

/** Everything the Updates page shows. */
export function updatesStatus(appliance: UpdatesSite) {
  const svc = appliance.updateService;
  const staged = appliance.updates.staged();
  return {
    installed: {
      product: appliance.productVersion,
      base: appliance.baseVersion,
      slot: appliance.updates.activeSlot(),
    },
    role: appliance.role,
    server: appliance.updateSettings.serverView() ?? null,
    identityFingerprint: svc.identityFingerprint,
    automatic: appliance.updateSettings.automatic(),
    reserveMiB: appliance.updateSettings.reserveMiB(),
    releaseKeys: appliance.updates.releaseKeyIds(),
    lastCheck: svc.lastCheck ?? null,
    available: svc.available,
    staged: staged.map((s) => ({
      ...s,
      // S13: the console and Jump Client of a version not installed yet, before the upgrade.
      installers:
        s.kind === 'product'
          ? CLIENTS.map((c) => ({
              client: c,
              url: `/api/appliance/updates/staged/${s.id}/installers/${c}`,
            }))
          : [],
    })),
    downloads: [...svc.downloads.values()],
    install: appliance.updates.progress ?? null,
    lastResult: appliance.updates.sys.lastResult() ?? null,
    history: appliance.updates.sys.history(50),
    backups: appliance.updates.backups(),
  };
}

/** Installing restarts the appliance: the answer comes at once, progress by polling. */
const INSTALL_STARTED = {
  status: 202,
  description: 'Install started; follow it with GET /api/appliance/updates',
} as const;

/** /appliance > Updates (S8–S11, S13). */
export const updateOperations: UpdatesOperation[] = [
  op('updatesStatus', 'GET /api/appliance/updates', {
    summary:
      'Updates: installed versions, available and staged packages, install progress, history',
    response: { status: 200, description: 'Update status' },
    handler: ({ appliance }) => updatesStatus(appliance),
  }),
  op('checkForUpdates', 'POST /api/appliance/updates/check', {
    summary:
      'Check for updates: ask the update server what applies to this appliance, in install order',
    response: { status: 200, description: 'Available updates' },
    handler: async ({ appliance, actor }) => ({
      available: await appliance.updateService.check(actor),
    }),
  }),
  op('setUpdateServer', 'PUT /api/appliance/updates/server', {
    summary:
      "Set the update server's URL, pinned certificate fingerprint and (once) the registration token its operator gave",
    body: UpdateServerConfig,
    response: { status: 200, description: 'Saved' },
    handler: ({ appliance, actor, body }) => {
      appliance.updateSettings.setServer(actor, body);
      return appliance.updateSettings.serverView();
    },
  }),
  op('setAutomaticUpdates', 'PUT /api/appliance/updates/automatic', {
    summary:
      'Enable or disable automatic (scheduled) updates; refused in a failover pair or cluster (S5)',
    body: AutomaticUpdates,
    response: { status: 200, description: 'Saved' },
    handler: ({ appliance, actor, body }) => {
      appliance.updateSettings.setAutomatic(actor, body, appliance.standing);
      return appliance.updateSettings.automatic();
    },
  }),
  op('setInstallReserve', 'PUT /api/appliance/updates/reserve', {
    summary:
      'Free disk space (MiB) an install must leave; installs that would leave less are refused',
    body: InstallSafety,
    response: { status: 200, description: 'Saved' },
    handler: ({ appliance, actor, body }) => {
      appliance.updateSettings.setReserveMiB(actor, body.reserveMiB);
      return { reserveMiB: appliance.updateSettings.reserveMiB() };
    },
  }),
  op('downloadUpdate', 'POST /api/appliance/updates/available/:id/download', {
    summary: 'Download an available update into staging without installing it',
    params: IdParams,
    response: { status: 200, description: 'The staged package' },
    handler: ({ appliance, actor, params }) => appliance.updateService.download(actor, params.id),
  }),
  op('installAvailableUpdate', 'POST /api/appliance/updates/available/:id/install', {
    summary: 'Install This Update: download (if needed), check, install; the appliance restarts',
    params: IdParams,
    body: InstallBody,
    response: INSTALL_STARTED,
    handler: ({ appliance, actor, params, body }) =>
      appliance.updateService.installAvailable(actor, params.id, body.force),
  }),
  op('uploadUpdate', 'POST /api/appliance/updates/upload', {
    summary: 'Manual Installation: upload a package file (verified before it is kept)',
    rawBody: { contentType: 'application/octet-stream', description: 'A .ghpkg package file' },
    response: { status: 201, description: 'The staged package' },
    handler: ({ appliance, actor, req }) => {
      if (!req.headers['content-type']?.startsWith('application/octet-stream'))
        throw updatesErrors.UNSUPPORTED_MEDIA_TYPE(
          'Send the package file as application/octet-stream.',
        );
      return appliance.updates.stageUpload(req.body as NodeJS.ReadableStream as never).then((s) => {
        appliance.events.record(actor, 'updates.uploaded', `${s.kind} ${s.version}`, {
          sha256: s.sha256,
        });
        return s;
      });
    },
  }),
  op('installStagedUpdate', 'POST /api/appliance/updates/staged/:id/install', {
    summary: 'Update Software: install a staged package; the appliance restarts',
    params: IdParams,
    body: InstallBody,
    response: INSTALL_STARTED,
    handler: ({ appliance, actor, params, body }) =>
      appliance.updates.install(params.id, actor, { force: body.force, expectKind: body.kind }),
  }),
  op('removeStagedUpdate', 'DELETE /api/appliance/updates/staged/:id', {
    summary: 'Remove a staged package',
    params: IdParams,
    response: { status: 204, description: 'Removed' },
    handler: async ({ appliance, actor, params }) => {
      const s = appliance.updates.get(params.id);
      await appliance.updates.removeStaged(params.id);
      appliance.events.record(actor, 'updates.staged-removed', `${s.kind} ${s.version}`);
    },
  }),
  op('downloadClientInstaller', 'GET /api/appliance/updates/staged/:id/installers/:client', {
    summary:
      "S13: the installer of a staged product version: the console's is the signed product package; the Jump Client's names the site before it (docs/clients.md)",
    params: InstallerParams,
    response: {
      status: 200,
      description: 'Signed installer package',
      contentType: 'application/octet-stream',
    },
    handler: ({ appliance, actor, params, reply, req }) =>
      sendClientInstaller(appliance, reply, {
        id: params.id,
        client: params.client,
        actor,
        requestHost: req.headers.host ?? '',
      }),
  }),
  op('createDownloadKey', 'POST /api/appliance/updates/download-key', {
    summary:
      'Appliance Download Key for air-gapped updates (S10): paste it into the update server page',
    body: KeyBody,
    response: { status: 201, description: 'The key and its expiry' },
    handler: ({ appliance, actor, body }) =>
      appliance.updateService.downloadKey(actor, body.ttlHours),
  }),
  op('downloadPreUpdateBackup', 'GET /api/appliance/updates/backups/:name', {
    summary: 'A backup saved before an install',
    params: BackupParams,
    response: {
      status: 200,
      description: 'Signed backup archive',
      contentType: 'application/octet-stream',
    },
    handler: ({ appliance, actor, params, reply }) => {
      const stream = appliance.updates.openBackup(actor, params.name);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', `attachment; filename="${params.name}"`)
        .send(stream);
    },
  }),
];
