import { z } from 'zod';
import { AddressPatch, IpAddress, NewAddressInput } from '../network.js';
import { ClientAddressInput } from '../client-address.js';
import { RestoreOptions } from '../backup/backup.js';
import { UpgradeNoticeInput } from '../upgrade-notice.js';
import { LogRotationInput } from '../log-rotation.js';
import { applianceOperationsOf, type ApplianceOperation } from './operation.js';
import { sendBackup } from '../backup/send-backup.js';

const op = applianceOperationsOf({ area: 'appliance', tag: 'appliance' });

const AddressParams = z.object({ address: IpAddress });
const BackupQuery = z
  .object({
    includeRecordings: z
      .enum(['true', 'false'], { message: "must be 'true' or 'false'" })
      .default('false'),
  })
  .strict();

/** /appliance area: status, networking, updates, backup. */
export const applianceOperations: ApplianceOperation[] = [
  op('applianceStatus', 'GET /api/appliance/status', {
    summary: 'Status: name, versions, uptime, addresses, disk',
    response: { status: 200, description: 'Appliance status' },
    handler: ({ appliance }) => appliance.status(),
  }),
  op('changeAppliancePassword', 'PUT /api/appliance/account/password', {
    summary:
      "Change the signed-in /appliance administrator's own password; ends the administrator's other /appliance sessions",
    body: z
      .object({
        currentPassword: z.string({ message: 'is required' }).min(1, 'is required'),
        newPassword: z
          .string({ message: 'is required' })
          .max(256, 'must be at most 256 characters'),
      })
      .strict(),
    response: { status: 204, description: 'Changed' },
    handler: async ({ appliance, actor, auth, body }) => {
      await appliance.admins.changePassword(
        actor,
        body.currentPassword,
        body.newPassword,
        appliance.settings.get().passwordMinLength,
        auth!.id,
      );
    },
  }),
  op('getClientAddress', 'GET /api/appliance/network/client-address', {
    summary: 'Where clients reach this appliance directly (null: its inter-appliance address)',
    response: { status: 200, description: 'The client address' },
    handler: ({ appliance }) => ({ clientAddress: appliance.clientAddress.get() ?? null }),
  }),
  op('setClientAddress', 'PUT /api/appliance/network/client-address', {
    summary:
      'Set where clients reach this appliance directly (host empty: none); a failover peer sends its clients there when this appliance takes the primary role',
    body: ClientAddressInput,
    response: { status: 200, description: 'The client address' },
    handler: ({ appliance, actor, body }) => ({
      clientAddress: appliance.clientAddress.set(actor, body) ?? null,
    }),
  }),
  op('getLogRotation', 'GET /api/appliance/logs/rotation', {
    summary:
      "Logs: the size at which this appliance's log files are rotated (MiB) and how many rotated files are kept",
    response: { status: 200, description: 'The log rotation setting' },
    handler: ({ appliance }) => appliance.logRotation.current(),
  }),
  op('setLogRotation', 'PUT /api/appliance/logs/rotation', {
    summary:
      "Set when this appliance's log files (logs/appliance.log, logs/supervisor.log) are rotated and how many rotated files are kept; applies to the next line written",
    body: LogRotationInput,
    response: { status: 200, description: 'The log rotation setting' },
    handler: ({ appliance, actor, body }) => appliance.logRotation.set(actor, body),
  }),
  op('listAddresses', 'GET /api/appliance/network/addresses', {
    summary: 'Networking > IP Configuration: unique and shared addresses',
    response: { status: 200, description: 'Addresses' },
    handler: ({ appliance }) => ({ addresses: appliance.network.list() }),
  }),
  op('addAddress', 'POST /api/appliance/network/addresses', {
    summary: 'Add a unique or shared address',
    body: NewAddressInput,
    response: { status: 201, description: 'Added' },
    handler: ({ appliance, actor, body }) =>
      appliance.addresses.change(actor, () => appliance.network.add(actor, body)),
  }),
  op('updateAddress', 'PATCH /api/appliance/network/addresses/:address', {
    summary: 'Enable or disable a shared address, or relabel an address',
    params: AddressParams,
    body: AddressPatch,
    response: { status: 200, description: 'Updated' },
    handler: ({ appliance, actor, params, body }) =>
      appliance.addresses.change(actor, () =>
        appliance.network.update(actor, params.address, body),
      ),
  }),
  op('removeAddress', 'DELETE /api/appliance/network/addresses/:address', {
    summary: 'Remove an address',
    params: AddressParams,
    response: { status: 204, description: 'Removed' },
    handler: ({ appliance, actor, params }) => {
      return appliance.addresses.change(actor, () => {
        appliance.network.remove(actor, params.address);
      });
    },
  }),
  op('downloadBackup', 'GET /api/appliance/backup', {
    summary: 'Download a signed backup archive of the site (recordings optional)',
    query: BackupQuery,
    response: {
      status: 200,
      description: 'The backup archive',
      contentType: 'application/octet-stream',
    },
    handler: async ({ appliance, actor, query, reply }) => {
      return sendBackup(
        reply,
        appliance.backups,
        appliance.identity.name,
        actor,
        query.includeRecordings === 'true',
      );
    },
  }),
  op('backupSigner', 'GET /api/appliance/backup/signer', {
    summary: "This appliance's backup signing key id (to trust its backups elsewhere)",
    response: { status: 200, description: 'Key id' },
    handler: ({ appliance }) => ({ keyId: appliance.backups.signerKeyId }),
  }),
  op('restoreBackup', 'POST /api/appliance/backup/restore', {
    summary: 'Restore a backup archive: verified whole before anything changes',
    query: RestoreOptions,
    rawBody: {
      contentType: 'application/octet-stream',
      description: 'The archive downloaded from GET /api/appliance/backup',
    },
    response: { status: 200, description: 'Restored; counts of restored records' },
    handler: ({ appliance, actor, query, req }) =>
      appliance.backups.restore(actor, req.body as NodeJS.ReadableStream as never, {
        trustedSigner: query.trustedSigner,
        // An archive is bounded by the disk: keep half of the free space for the unpacked copy.
        maxBytes: Math.floor(appliance.status().disk.freeBytes / 2),
      }),
  }),
  op('upgradeInProgress', 'GET /api/appliance/upgrade-in-progress', {
    summary: 'Whether this appliance is marked as the old primary of an upgrade in progress (S23)',
    response: { status: 200, description: 'The mark, or null' },
    handler: ({ appliance }) => ({ upgrade: appliance.upgradeNotice.get() ?? null }),
  }),
  op('markUpgradeInProgress', 'PUT /api/appliance/upgrade-in-progress', {
    summary:
      'Mark this appliance as the old primary of an upgrade in progress: /login shows a banner and every change needs X-Gatehouse-Confirm-Overwrite: true (the orchestrator sets it)',
    body: UpgradeNoticeInput,
    response: { status: 200, description: 'The mark' },
    handler: ({ appliance, actor, body }) => ({
      upgrade: appliance.upgradeNotice.set(actor, body),
    }),
  }),
  op('clearUpgradeInProgress', 'DELETE /api/appliance/upgrade-in-progress', {
    summary: 'The upgrade is over (finished, failed or abandoned): changes need no confirmation',
    response: { status: 200, description: 'Whether there was a mark' },
    handler: ({ appliance, actor }) => ({ cleared: appliance.upgradeNotice.clear(actor) }),
  }),
];
