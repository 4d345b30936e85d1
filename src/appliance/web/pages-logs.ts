import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseInput } from '../../shared/http/operations.js';
import { formatBytes, html, tableHead } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import { LogRotationInput, type IgnoredRotation, type LogRotation } from '../log-rotation.js';
import { type PageContext, type Pages } from './page-host.js';

const numberOf = (s: string | undefined) => (s?.trim() ? Number(s) : undefined);

/** The files of the log directory, newest first within each log. */
function logFiles(dir: string): { name: string; bytes: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const order = (n: string) => Number(/\.(\d+)(\.gz)?$/.exec(n)?.[1] ?? 0);
  return names
    .sort(
      (a, b) =>
        a.replace(/\.\d+(\.gz)?$/, '').localeCompare(b.replace(/\.\d+(\.gz)?$/, '')) ||
        order(a) - order(b),
    )
    .flatMap((name) => {
      // The other process may rotate its log between the listing and this: gone, not listed.
      const st = statSync(path.join(dir, name), { throwIfNoEntry: false });
      return st ? [{ name, bytes: st.size }] : [];
    });
}

/** A saved setting refused today (an older version's, over the cap): the defaults stand in. */
function ignoredWarning(ignored: IgnoredRotation | undefined, r: LogRotation) {
  if (!ignored) return html``;
  return html`<p class="notice warn" role="alert" id="rotation-ignored">
    The saved rotation setting (${ignored.savedText}) is not used: ${ignored.reason}. The defaults
    are in force instead (${r.maxFileMiB} MiB, ${r.keepFiles} kept). Save a setting below (or run
    <code>gatehouse appliance log-rotation set</code>) to replace it.
  </p>`;
}

function page(ctx: PageContext, problem: kit.FormProblem, values?: Record<string, unknown>) {
  ctx.reply.code(problem.status);
  const r = ctx.appliance.logRotation.current();
  const shown = (name: 'maxFileMiB' | 'keepFiles') =>
    values ? (values[name] as string | undefined) : r[name];
  const files = logFiles(ctx.appliance.dir.logs);
  return kit.layout(
    ctx,
    'Log files',
    html`<section id="log-files">
        <p class="note">
          The appliance (<code>logs/appliance.log</code>) and its supervisor
          (<code>logs/supervisor.log</code>) write one JSON event per line, to these files and to
          standard output. A file that would pass its size limit is renamed <code>.1</code> (older
          ones shift to <code>.2.gz</code> …, gzipped in the background; <code>.1</code> stays
          plain) and a new one started; the oldest beyond the count are removed.
        </p>
        <table id="log-file-list">
          ${tableHead(['File', 'Size'])}
          <tbody>
            ${files.map(
              (f) =>
                html`<tr>
                  <td><code>${f.name}</code></td>
                  <td>${formatBytes(f.bytes)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </section>
      <section id="rotation">
        <h2>Rotation</h2>
        ${ignoredWarning(ctx.appliance.logRotation.ignored(), r)}
        ${kit.formAlert(problem, ['maxFileMiB', 'keepFiles'])}
        ${kit.postForm(
          ctx,
          {
            action: '/appliance/logs/rotation',
            id: 'rotation-form',
            cls: 'stacked compact',
            submit: 'Save rotation',
          },
          [
            kit.field('Rotate a file at (MiB)', 'maxFileMiB', shown('maxFileMiB'), problem.fields, {
              type: 'number',
              help: '1 to 1024; default 50',
            }),
            kit.field(
              'Rotated files kept per log',
              'keepFiles',
              shown('keepFiles'),
              problem.fields,
              {
                type: 'number',
                help: '1 to 100; default 10. Each log takes at most (kept + 1) × size, counted before compression.',
              },
            ),
          ],
        )}
      </section>`,
  );
}

/** /appliance > Log files: the log files and their rotation setting. */
export function registerLogPages(p: Pages): void {
  p.get('/appliance/logs', (ctx) => page(ctx, kit.NO_PROBLEM));
  p.post('/appliance/logs/rotation', (ctx) => {
    const body = kit.formBody(ctx);
    const values = { maxFileMiB: body.maxFileMiB, keepFiles: body.keepFiles };
    try {
      const rotation = parseInput(
        LogRotationInput,
        { maxFileMiB: numberOf(values.maxFileMiB), keepFiles: numberOf(values.keepFiles) },
        'body',
      );
      ctx.appliance.logRotation.set(ctx.actor, rotation);
      return kit.redirect(
        ctx.reply,
        '/appliance/logs',
        `Log files are now rotated at ${rotation.maxFileMiB} MiB, ${rotation.keepFiles} kept.`,
      );
    } catch (e) {
      return page(ctx, kit.formErrors(e), values);
    }
  });
}
