import { updatesStatus } from './api.js';
import { formatBytes, html, type SafeHtml } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import {
  installBusy,
  progressSection,
  resultsSection,
  when,
  type Status,
} from './pages-install.js';
import type { UpdatesSite } from './site.js';

type PageContext = kit.PageContext<UpdatesSite>;

/** The forms of the Updates page; a failed one shows its error above it and beside its fields. */
export type UpdatesForm =
  'check' | 'available' | 'upload' | 'staged' | 'key' | 'server' | 'automatic' | 'reserve';

export interface UpdatesView {
  failed?: {
    form: UpdatesForm;
    problem: kit.FormProblem;
    /** The package (row) it concerns. */
    id?: string;
  };
  /** What was typed into the failed form, shown again. */
  values?: Record<string, string | undefined>;
  key?: { key: string; expiresAt: string };
}

/** The errors of `form` when it is the one that failed, else none. */
function fieldsOf(view: UpdatesView, form: UpdatesForm, id?: string) {
  const f = view.failed;
  return f && f.form === form && (id === undefined || f.id === id) ? f.problem.fields : {};
}

/** The general message of a failed form unless each of its errors already sits beside a field. */
function alertFor(view: UpdatesView, form: UpdatesForm, shown: string[] = []): SafeHtml {
  const f = view.failed;
  if (!f || f.form !== form || !f.problem.message) return html``;
  const beside = Object.keys(f.problem.fields);
  if (beside.length > 0 && beside.every((n) => shown.includes(n))) return html``;
  return html`<p class="error" role="alert" id="${form}-error">${f.problem.message}</p>`;
}

const value = (view: UpdatesView, name: string, current: string | number | undefined) =>
  view.values && name in view.values ? view.values[name] : current;

/** A table of packages: kind, version, base, size, notes, the `extra` columns, then actions. */
function packageTable(id: string, extra: string[], empty: string, rows: SafeHtml[]): SafeHtml {
  return html`<table id="${id}" class="list">
    <thead>
      <tr>
        <th>Kind</th>
        <th>Version</th>
        <th>Requires base</th>
        <th class="num">Size</th>
        <th>Release notes</th>
        ${extra.map((h) => html`<th>${h}</th>`)}
        <th class="actions"></th>
      </tr>
    </thead>
    <tbody>
      ${
        rows.length === 0
          ? html`<tr class="empty">
              <td colspan="${6 + extra.length}">${empty}</td>
            </tr>`
          : rows
      }
    </tbody>
  </table>`;
}

function installedSection(s: Status) {
  return html`<section id="installed">
    <h2>Installed</h2>
    <dl class="facts">
      <dt>Product version</dt>
      <dd id="installed-product-version">${s.installed.product}</dd>
      <dt>Base version</dt>
      <dd id="installed-base-version">${s.installed.base}</dd>
      <dt>Active slot</dt>
      <dd id="installed-slot">${s.installed.slot}</dd>
      <dt>Role</dt>
      <dd id="installed-role">${s.role}</dd>
      <dt>Trusted release keys</dt>
      <dd>${s.releaseKeys.length ? s.releaseKeys.map((k) => html`<code>${k}</code> `) : 'none'}</dd>
    </dl>
  </section>`;
}

function availableSection(ctx: PageContext, s: Status, view: UpdatesView, busy: boolean) {
  const check = s.lastCheck;
  return html`<section id="available">
    <h2>Available Updates</h2>
    <form method="post" action="/appliance/updates/check" id="check-updates" class="toolbar">
      ${kit.csrfInput(ctx)}<button type="submit">Check for updates</button>
      <span class="muted" id="update-server"
        >${s.server ? html`Update server <code>${s.server.url}</code>` : 'No update server is configured: set one under Update server below, or install manually.'}</span
      >
    </form>
    ${alertFor(view, 'check')} ${alertFor(view, 'available')}
    ${check && !view.failed ? html`<p class="${check.error ? 'error' : 'muted small'}" id="last-check">Last checked ${when(check.at)}${check.error ? `: ${check.error}` : ''}</p>` : ''}
    ${packageTable(
      'available-updates',
      [],
      check && !check.error
        ? 'This appliance is up to date.'
        : 'No updates are listed: check for updates.',
      s.available.map(
        (a) =>
          html`<tr data-id="${a.id}" data-version="${a.version}" data-kind="${a.kind}">
            <td><span class="tag">${a.kind}</span></td>
            <td>${a.version}</td>
            <td>${a.requires.base ?? '—'}</td>
            <td class="num">${formatBytes(a.size)}</td>
            <td>${a.releaseNotes}</td>
            <td class="actions">
              <form
                method="post"
                action="/appliance/updates/available/${a.id}/install"
                class="inline"
              >
                ${kit.csrfInput(ctx)}<button type="submit" ${busy ? html`disabled` : ''}>
                  Install This Update
                </button>
              </form>
              <form
                method="post"
                action="/appliance/updates/available/${a.id}/download"
                class="inline"
              >
                ${kit.csrfInput(ctx)}<button type="submit" class="secondary">Download only</button>
              </form>
            </td>
          </tr>`,
      ),
    )}
    ${s.downloads
      .filter((d) => d.state === 'failed')
      .map(
        (d) =>
          html`<p class="error small download-failed">
            Download of ${d.kind} ${d.version} failed after ${formatBytes(d.bytes)}: ${d.error}
          </p>`,
      )}
  </section>`;
}

function stagedRow(
  ctx: PageContext,
  s: Status,
  p: Status['staged'][number],
  view: UpdatesView,
  busy: boolean,
) {
  const errors = fieldsOf(view, 'staged', p.id);
  const installedNow =
    p.version === (p.kind === 'product' ? s.installed.product : s.installed.base);
  return html`<tr data-id="${p.id}" data-version="${p.version}" data-kind="${p.kind}">
    <td><span class="tag">${p.kind}</span></td>
    <td>
      ${p.version} ${installedNow ? html`<span class="tag ok">installed</span>` : ''}<br /><small
        class="muted"
        >${p.source}, ${when(p.stagedAt)}</small
      >
    </td>
    <td>${p.requires.base ?? '—'}</td>
    <td class="num">${formatBytes(p.size)}</td>
    <td>${p.releaseNotes}</td>
    <td>
      ${
        p.installers.length === 0
          ? html`<span class="muted">—</span>`
          : p.installers.map(
              (i) =>
                html`<a
                    class="installer"
                    data-client="${i.client}"
                    href="/appliance/updates/staged/${p.id}/installers/${i.client}"
                    >${i.client === 'console' ? 'Console' : 'Jump Client'} ${p.version}</a
                  ><br />`,
            )
      }
    </td>
    <td class="actions">
      <form
        method="post"
        action="/appliance/updates/staged/${p.id}/install"
        class="inline compact install-staged"
      >
        ${kit.csrfInput(ctx)} ${kit.checkbox('force (allow downgrade)', 'force', false, errors)}
        <button type="submit" ${busy ? html`disabled` : ''}>Update Software</button>
      </form>
      ${
        ctx.appliance.cluster.isPrimaryNode
          ? kit.actionButton(
              ctx,
              `/appliance/updates/staged/${p.id}/distribute`,
              'Distribute to Cluster',
            )
          : ''
      }
      <form method="post" action="/appliance/updates/staged/${p.id}/remove" class="inline">
        ${kit.csrfInput(ctx)}<button type="submit" class="danger">Remove</button>
      </form>
    </td>
  </tr>`;
}

function manualSection(ctx: PageContext, s: Status, view: UpdatesView, busy: boolean) {
  return html`<section id="manual">
    <h2>Manual Installation</h2>
    <p class="note">
      For an appliance without access to the update server: create an Appliance Download Key below,
      fetch the packages it allows from the update server on another machine, bring them on
      removable media and upload them here. Install base software updates before the product updates
      that need them; a base update restarts the whole appliance.
    </p>
    ${alertFor(view, 'upload', ['file'])}
    ${kit.uploadForm(
      ctx,
      { action: '/appliance/updates/upload', id: 'upload-package', submit: 'Upload' },
      [
        kit.field('Package file (.ghpkg)', 'file', undefined, fieldsOf(view, 'upload'), {
          type: 'file',
          required: true,
          help: 'Verified against the release keys before it is kept',
        }),
      ],
    )}
    <h2>Downloaded packages</h2>
    ${alertFor(view, 'staged')}
    ${packageTable(
      'staged',
      ['Client installers'],
      'No packages are waiting to be installed.',
      s.staged.map((p) => stagedRow(ctx, s, p, view, busy)),
    )}
  </section>`;
}

function downloadKeySection(ctx: PageContext, view: UpdatesView) {
  const errors = fieldsOf(view, 'key');
  return html`<section id="download-key">
    <h2>Appliance Download Key</h2>
    ${alertFor(view, 'key', ['ttlHours'])}
    ${kit.postForm(
      ctx,
      {
        action: '/appliance/updates/download-key',
        id: 'download-key-form',
        cls: 'stacked compact',
        submit: 'Generate Appliance Download Key',
      },
      [
        kit.field('Valid for (hours)', 'ttlHours', value(view, 'ttlHours', 72), errors, {
          type: 'number',
          help: '1 to 720 hours',
        }),
      ],
    )}
    ${
      view.key
        ? html`<label class="field"
              ><span>Appliance Download Key</span>
              <textarea id="download-key-value" rows="6" readonly>${view.key.key}</textarea>
            </label>
            <p>Expires <span id="download-key-expires">${when(view.key.expiresAt)}</span>.</p>
            <p class="note">
              From another machine that can reach the update server, open the update server's
              download-key page, paste this key there and download the packages it lists; bring them
              here on removable media and upload them under Manual Installation.
            </p>`
        : ''
    }
  </section>`;
}

function settingsSection(ctx: PageContext, s: Status, view: UpdatesView) {
  const standalone = s.role === 'standalone';
  return html`<section id="settings">
    <h2>Update server</h2>
    ${alertFor(view, 'server', ['url', 'fingerprint', 'registrationToken'])}
    <p class="note">
      This appliance's identity key fingerprint, which the update server's operator compares before
      approving it: <code id="identity-fingerprint">${s.identityFingerprint}</code>
    </p>
    <form method="post" action="/appliance/updates/server" id="update-server-form" class="stacked">
      ${kit.csrfInput(ctx)}
      ${kit.field('URL', 'url', value(view, 'url', s.server?.url), fieldsOf(view, 'server'), { required: true, help: 'e.g. https://updates.example.com:8444' })}
      ${kit.field('Certificate fingerprint (SHA-256)', 'fingerprint', value(view, 'fingerprint', s.server?.fingerprint), fieldsOf(view, 'server'), { required: true, help: 'As printed by `gatehouse update-server start`' })}
      ${kit.field('Registration token (once)', 'registrationToken', '', fieldsOf(view, 'server'), { help: s.server?.registrationTokenPending ? 'A token is saved: the next check enrols this appliance with it' : 'From the update server operator (ghrt1.…); not needed once enrolled, or if the operator approves the fingerprint above' })}
      <div class="buttons"><button type="submit">Save update server</button></div>
    </form>
    <h2>Automatic updates</h2>
    ${standalone ? '' : html`<p class="note">This appliance's role is ${s.role}: it is upgraded by the runbook, not automatically (S5).</p>`}
    ${alertFor(view, 'automatic', ['enabled', 'dailyAt'])}
    <form method="post" action="/appliance/updates/automatic" id="automatic-form" class="stacked">
      ${kit.csrfInput(ctx)}
      ${kit.checkbox('Install updates automatically', 'enabled', view.failed?.form === 'automatic' ? view.values?.enabled === 'on' : s.automatic.enabled, fieldsOf(view, 'automatic'))}
      ${kit.field('Daily at (HH:MM)', 'dailyAt', value(view, 'dailyAt', s.automatic.dailyAt), fieldsOf(view, 'automatic'), { help: '24-hour, appliance clock' })}
      <div class="buttons"><button type="submit">Save automatic updates</button></div>
    </form>
    <h2>Install reserve</h2>
    ${alertFor(view, 'reserve', ['reserveMiB'])}
    ${kit.postForm(
      ctx,
      {
        action: '/appliance/updates/reserve',
        id: 'reserve-form',
        cls: 'stacked compact',
        submit: 'Save reserve',
      },
      [
        kit.field(
          'Free disk space to keep (MiB)',
          'reserveMiB',
          value(view, 'reserveMiB', s.reserveMiB),
          fieldsOf(view, 'reserve'),
          { type: 'number', help: 'Installs that would leave less free space are refused' },
        ),
      ],
    )}
  </section>`;
}

/** /appliance > Updates: everything `updatesStatus` knows, and a form for each action. */
export function updatesPage(ctx: PageContext, view: UpdatesView = {}): SafeHtml {
  const s = updatesStatus(ctx.appliance);
  const busy = installBusy(ctx.appliance, s);
  ctx.reply.code(view.failed?.problem.status ?? 200);
  return kit.layout(
    ctx,
    'Updates',
    html`${progressSection(ctx.appliance, s)} ${installedSection(s)}
    ${availableSection(ctx, s, view, busy)} ${manualSection(ctx, s, view, busy)}
    ${downloadKeySection(ctx, view)} ${resultsSection(s)} ${settingsSection(ctx, s, view)}`,
  );
}
