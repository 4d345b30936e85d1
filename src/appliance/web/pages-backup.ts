import type { Appliance } from '../context.js';
import { RestoreOptions, type RestoreResult } from '../backup/backup.js';
import { parseInput } from '../../shared/http/operations.js';
import { html } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import { type PageContext, type Pages } from './page-host.js';
import { readUpload } from '../../shared/web/multipart.js';
import { sendBackup } from '../backup/send-backup.js';

function page(ctx: PageContext, trustedSigner: string, problem: kit.FormProblem) {
  ctx.reply.code(problem.status);
  return kit.layout(
    ctx,
    'Backup',
    html`<section id="download">
        <h2>Download a backup</h2>
        <p class="note">
          A backup holds the site's users, configuration, file store, logs and session records,
          signed by this appliance. Recordings are large: include them only when you need them.
        </p>
        <dl class="facts">
          <dt>Backup signer key id</dt>
          <dd><code id="backup-signer">${ctx.appliance.backups.signerKeyId}</code></dd>
        </dl>
        <form
          method="post"
          action="/appliance/backup/download"
          id="backup-download"
          class="stacked compact"
        >
          ${kit.csrfInput(ctx)} ${kit.checkbox('Include recordings', 'includeRecordings', false)}
          <div class="buttons"><button type="submit">Download backup</button></div>
        </form>
      </section>
      <section id="restore">
        <h2>Restore</h2>
        <p class="note">
          Restoring replaces the site's users, configuration and file store with those of the backup
          and merges its logs and session records into this appliance's. The whole archive is
          verified before anything changes. Site administrators are signed out. Backups signed by
          this appliance are trusted; for a backup of another appliance, enter that appliance's key
          id.
        </p>
        ${kit.formAlert(problem, ['trustedSigner', 'archive'])}
        ${kit.uploadForm(
          ctx,
          {
            action: '/appliance/backup/restore',
            id: 'backup-restore',
            submit: 'Restore',
            danger: true,
          },
          [
            kit.field(
              'Trusted signer key id (optional)',
              'trustedSigner',
              trustedSigner,
              problem.fields,
              { help: 'Only for a backup made by another appliance' },
            ),
            kit.field('Backup archive', 'archive', undefined, problem.fields, {
              type: 'file',
              required: true,
            }),
          ],
        )}
      </section>`,
  );
}

function restoredNotice(r: RestoreResult): string {
  const c = r.counts;
  return (
    `Restored the backup of ${r.appliance} made at ${r.createdAt} (Gatehouse ${r.productVersion}): ` +
    `now ${c.users ?? 0} users, ${c.files ?? 0} files, ${c.events ?? 0} events and ` +
    `${c.session_records ?? 0} session records. Site administrators were signed out.`
  );
}

/** Backup: download a signed archive of the site, restore one. */
export function registerBackupPages(p: Pages, appliance: Appliance): void {
  p.get('/appliance/backup', (ctx) => page(ctx, '', kit.NO_PROBLEM));

  p.post('/appliance/backup/download', async (ctx) => {
    return sendBackup(
      ctx.reply,
      appliance.backups,
      appliance.identity.name,
      ctx.actor,
      kit.ticked(kit.formBody(ctx).includeRecordings),
    );
  });

  p.upload('/appliance/backup/restore', async (ctx, parts) => {
    const signerOf = (fields: Record<string, string>) =>
      parseInput(
        RestoreOptions,
        { trustedSigner: fields.trustedSigner?.trim() || undefined },
        'body',
      ).trustedSigner;
    const form = await readUpload(parts, 'archive', async (file, fields) => {
      const trustedSigner = signerOf(fields);
      return appliance.backups.restore(ctx.actor, file.content, {
        trustedSigner,
        // As over the API: keep half of the free space for the unpacked copy.
        maxBytes: Math.floor(appliance.status().disk.freeBytes / 2),
      });
    });
    const trustedSigner = form.fields.trustedSigner ?? '';
    if (form.result)
      return kit.redirect(ctx.reply, '/appliance/backup', restoredNotice(form.result));
    if (!form.chosen) {
      let fields = {};
      try {
        signerOf(form.fields);
      } catch (e) {
        fields = kit.formErrors(e).fields;
      }
      return page(ctx, trustedSigner, {
        fields: { ...fields, archive: 'choose the backup archive to restore' },
        message: 'archive: choose the backup archive to restore',
        status: 400,
      });
    }
    const problem = kit.formErrors(form.error);
    // Errors of the archive itself (truncated, altered, foreign, newer) belong beside its field.
    if (Object.keys(problem.fields).length === 0) problem.fields.archive = problem.message;
    return page(ctx, trustedSigner, problem);
  });
}
