import { parseInput } from '../../shared/http/operations.js';
import { FileName } from '../files.js';
import { formatBytes, formatTime, html, tableOf } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import { sendStoredFile } from './download.js';
import type { PageContext, Pages, SiteDataSite } from './site.js';
import { readUpload } from '../../shared/web/multipart.js';

const filePath = (name: string) => `/login/files/${encodeURIComponent(name)}`;

function page(ctx: PageContext, problem: kit.FormProblem) {
  ctx.reply.code(problem.status);
  const files = ctx.appliance.files.list();
  const limitMiB = ctx.appliance.settings.get().fileStoreMaxMiB;
  return kit.layout(
    ctx,
    'File Store',
    html`${kit.formAlert(problem, ['file'])}
      <table id="files" class="list">
        ${tableOf(
          [
            'Name',
            ['Size', 'num'],
            'SHA-256',
            'Uploaded by',
            'Uploaded at',
            ['Actions', 'actions'],
          ],
          files,
          'The file store is empty.',
          (f) =>
            html`<tr data-name="${f.name}">
              <td><a href="${filePath(f.name)}/download" class="download">${f.name}</a></td>
              <td class="num">${formatBytes(f.size)}</td>
              <td><code title="${f.sha256}">${f.sha256.slice(0, 12)}…</code></td>
              <td>${f.uploadedBy}</td>
              <td>${formatTime(f.uploadedAt)}</td>
              <td class="actions">
                <a href="${filePath(f.name)}/download">Download</a>
                ${kit.actionButton(ctx, `${filePath(f.name)}/delete`, 'Delete', 'danger')}
              </td>
            </tr>`,
        )}
      </table>
      <section>
        <h2>Upload a file</h2>
        ${kit.uploadForm(ctx, { action: '/login/files', id: 'upload', submit: 'Upload' }, [
          kit.field('File', 'file', undefined, problem.fields, {
            type: 'file',
            required: true,
            help: `Up to ${limitMiB} MiB (Configuration > File store limit). A file of the same name is replaced.`,
          }),
        ])}
      </section>`,
  );
}

/** File Store: list, upload, download and delete the site's files. */
export function registerFilePages(p: Pages, appliance: SiteDataSite): void {
  p.get('/login/files', (ctx) => page(ctx, kit.NO_PROBLEM));

  p.upload('/login/files', async (ctx, parts) => {
    const form = await readUpload(parts, 'file', async (file) => {
      const name = parseInput(FileName, file.filename, 'file');
      // As over the API: the browser's guess of the type is not trusted (no stored HTML or script).
      return appliance.files.put(ctx.actor, name, 'application/octet-stream', file.content);
    });
    if (form.result) {
      const f = form.result;
      return kit.redirect(ctx.reply, '/login/files', `Stored ${f.name} (${formatBytes(f.size)}).`);
    }
    if (!form.chosen) {
      return page(ctx, {
        fields: { file: 'choose a file to upload' },
        message: 'file: choose a file to upload',
        status: 400,
      });
    }
    const problem = kit.formErrors(form.error);
    if (Object.keys(problem.fields).length === 0) problem.fields.file = problem.message;
    return page(ctx, problem);
  });

  p.get('/login/files/:name/download', (ctx) => {
    const name = parseInput(FileName, (ctx.req.params as { name: string }).name, 'name');
    return sendStoredFile(ctx.reply, appliance.files.open(name));
  });

  p.post('/login/files/:name/delete', async (ctx) => {
    const { name } = ctx.req.params as { name: string };
    try {
      await appliance.files.delete(ctx.actor, name);
      return kit.redirect(ctx.reply, '/login/files', `Deleted ${name}.`);
    } catch (e) {
      return page(ctx, { ...kit.formErrors(e), fields: {} });
    }
  });
}
