import type { updatesStatus } from './api.js';
import type { UpdatesSite } from './site.js';
import { formatBytes, formatTime, html, tableOf } from '../../shared/web/html.js';

// The install part of the Updates page: progress, last result, history, pre-update backups.

/** Everything the Updates page shows: what GET /api/appliance/updates answers. */
export type Status = ReturnType<typeof updatesStatus>;
type Version = { product: string; base: string };

export const when = (iso: string | undefined) => (iso ? formatTime(Date.parse(iso)) : '—');
const versions = (v: Version | undefined) => (v ? `product ${v.product} / base ${v.base}` : '—');

/** Whether an install runs or new software is on trial: installs wait, the page refreshes. */
export function installBusy(appliance: UpdatesSite, s: Status): boolean {
  return (!!s.install && s.install.phase !== 'failed') || !!appliance.writeGate;
}

/** Reload the page (without the notice of the form that started the install) every few seconds. */
const refresh = (seconds: number) =>
  html`<meta http-equiv="refresh" content="${seconds}; url=/appliance/updates" />`;

export function progressSection(appliance: UpdatesSite, s: Status) {
  const p = s.install;
  if (p) {
    const failed = p.phase === 'failed';
    return html`<section id="install-progress" data-phase="${p.phase}">
      ${failed ? '' : refresh(p.phase === 'switching' || p.phase === 'restarting' ? 5 : 2)}
      <h2>${failed ? 'Install failed' : 'Install in progress'}</h2>
      <dl class="facts">
        <dt>Package</dt>
        <dd>${p.kind} ${p.version}</dd>
        <dt>Phase</dt>
        <dd id="install-phase">${p.phase}${failed ? '' : ` (step ${p.step} of ${p.steps})`}</dd>
        <dt>Started</dt>
        <dd>${when(p.startedAt)}</dd>
      </dl>
      <p class="${failed ? 'error' : 'note'}" id="install-message">${p.message}</p>
      ${failed ? '' : html`<p class="muted small">This page refreshes by itself. While the appliance restarts it does not answer for a few seconds: reload the page then.</p>`}
    </section>`;
  }
  if (appliance.writeGate === 'verifying')
    return html`<section id="install-progress" data-phase="verifying">
      ${refresh(2)}
      <h2>Install in progress</h2>
      <p class="note" id="install-message">
        The appliance restarted on product ${s.installed.product} / base ${s.installed.base} and is
        passing its health check. Changes are accepted again once the update is committed; if the
        check fails, the appliance returns to the previous software by itself.
      </p>
    </section>`;
  return html``;
}

export function resultsSection(s: Status) {
  const r = s.lastResult;
  return html`<section id="results">
    <h2>Last result</h2>
    ${
      !r
        ? html`<p class="muted" id="last-result">No update has been installed yet.</p>`
        : r.ok
          ? html`<p class="notice" id="last-result" data-ok="true">
              Committed ${r.kind ?? ''} update at ${when(r.at)}: the appliance runs
              ${versions(r.runs ?? r.attempted)}.
            </p>`
          : html`<p class="error" id="last-result" data-ok="false">
              Rolled back at ${when(r.at)} (tried ${versions(r.attempted)}; runs
              ${versions(r.runs)}): ${r.reason}
            </p>`
    }
    <h2>History</h2>
    <table id="history" class="list">
      ${tableOf(
        ['At', 'Event', 'From', 'To', 'Details', 'By'],
        s.history,
        'No installs yet.',
        (h) =>
          html`<tr
            data-event="${h.event}"
            class="${h.event === 'rolled-back' || h.event === 'failed' ? 'outcome-failed' : ''}"
          >
            <td class="nowrap">${when(h.at)}</td>
            <td>${h.event}${h.kind ? ` (${h.kind})` : ''}</td>
            <td>${versions(h.from)}</td>
            <td>${versions(h.to)}</td>
            <td>${h.reason ?? (h.backup ? `backup ${h.backup}` : '')}</td>
            <td>${h.actor ?? ''}</td>
          </tr>`,
      )}
    </table>
    <h2>Pre-update backups</h2>
    <table id="backups" class="list">
      ${tableOf(
        ['Backup', ['Size', 'num'], 'Saved'],
        s.backups,
        'No backups yet: one is saved before each install.',
        (b) =>
          html`<tr data-name="${b.name}">
            <td>
              <a class="download" href="/appliance/updates/backups/${encodeURIComponent(b.name)}"
                >${b.name}</a
              >
            </td>
            <td class="num">${formatBytes(b.size)}</td>
            <td>${when(b.createdAt)}</td>
          </tr>`,
      )}
    </table>
  </section>`;
}
