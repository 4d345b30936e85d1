import { createReadStream } from 'node:fs';
import type { FastifyReply } from 'fastify';
import type { Actor } from '../../shared/actor.js';
import type { BackupService } from './backup.js';

/**
 * Make a backup and send it as a download named after the appliance and its time (the API's
 * and the page's alike); its temporary file goes once the download ends.
 */
export async function sendBackup(
  reply: FastifyReply,
  backups: Pick<BackupService, 'create'>,
  applianceName: string,
  actor: Actor,
  includeRecordings: boolean,
) {
  const backup = await backups.create(actor, { includeRecordings });
  const stamp = backup.header.createdAt.replace(/[:.]/g, '-');
  const stream = createReadStream(backup.file);
  stream.on('close', () => void backup.cleanup());
  return reply
    .header('content-type', 'application/octet-stream')
    .header('content-disposition', `attachment; filename="${applianceName}-${stamp}.ghbackup"`)
    .header('x-gatehouse-backup-signer', backup.header.signer.keyId)
    .send(stream);
}
