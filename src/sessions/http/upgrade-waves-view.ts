import { html, type SafeHtml, tableHead } from '../../shared/web/html.js';
import type { RolloutStatus } from '../jump-client-upgrades.js';

const STATE: Record<RolloutStatus['state'], string> = {
  off: 'Off (Configuration > Jump Client upgrades: wave size 0)',
  'up-to-date': 'Every connected Jump Client runs the site version',
  running: 'Upgrading',
  halted: 'Halted',
};

/**
 * Status > Information: how the connected Jump Clients upgrade to the site's build (S13), wave
 * by wave; `resume` is the button of a halted upgrade.
 */
export function upgradeWavesSection(s: RolloutStatus, resume: SafeHtml): SafeHtml {
  const names = (list: string[]) => (list.length ? list.join(', ') : '—');
  return html`<h2>Jump Client Upgrades</h2>
    <dl class="facts" id="jump-client-upgrades" data-state="${s.state}">
      <dt>To version</dt>
      <dd>${s.target}</dd>
      <dt>State</dt>
      <dd id="jcu-state">${STATE[s.state]}</dd>
      <dt>Throttle</dt>
      <dd>
        at most ${s.settings.waveSize} at once; canary
        ${
          s.settings.canaryGroup
            ? html`group <code>${s.settings.canaryGroup}</code> (else ${s.settings.canarySize})`
            : s.settings.canarySize
        };
        ${s.settings.returnSeconds} s to come back
      </dd>
      <dt>Waiting</dt>
      <dd id="jcu-waiting">${names(s.waiting)}</dd>
      <dt>To upgrade by hand</dt>
      <dd>${names(s.manual)}</dd>
      <dt>Up to date</dt>
      <dd id="jcu-up-to-date">${s.upToDate}</dd>
    </dl>
    ${
      s.halt
        ? html`<p class="alert error" id="jcu-halt">
              Halted at wave ${s.halt.wave}: ${s.halt.reason}. Resuming starts the next wave without
              ${s.halt.missing.join(', ')}.
            </p>
            ${resume}`
        : ''
    }
    <table id="jump-client-waves" class="list">
      ${tableHead(['Wave', 'Jump Clients', 'Came back', 'Started', 'Outcome'])}
      <tbody>
        ${
          s.waves.length
            ? s.waves.map(
                (w) =>
                  html`<tr data-wave="${w.number}">
                    <td>${w.number}${w.canary ? ' (canary)' : ''}</td>
                    <td>${w.clients.join(', ')}</td>
                    <td>${w.returned.length} of ${w.clients.length}</td>
                    <td>${w.startedAt}</td>
                    <td>${w.outcome}</td>
                  </tr>`,
              )
            : html`<tr class="empty">
                <td colspan="5">No wave has started for this version.</td>
              </tr>`
        }
      </tbody>
    </table>`;
}
