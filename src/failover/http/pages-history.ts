import { formatTime, html, type SafeHtml, tableHead } from '../../shared/web/html.js';
import type { HistoryEntry } from '../history.js';

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

function row(e: HistoryEntry): SafeHtml {
  if (e.kind === 'role')
    return html`<tr class="history-role" data-kind="role">
      <td>${formatTime(e.at)}</td>
      <td>Role</td>
      <td>
        this appliance: <strong>${e.role}</strong>${
          e.generation === null ? '' : html`, generation ${e.generation}`
        }${e.peer ? html` (peer ${e.peer})` : ''}
      </td>
      <td><code>${e.action}</code></td>
    </tr>`;
  return html`<tr class="history-checks ${e.reachable ? '' : 'warn'}" data-kind="checks">
    <td>${formatTime(e.from)}</td>
    <td>Peer check${e.checks === 1 ? '' : 's'}</td>
    <td>
      ${
        e.reachable
          ? html`peer reachable${e.peerRole ? html`, ${e.peerRole}` : ''}`
          : html`peer <strong>unreachable</strong> (${e.error})`
      }
    </td>
    <td>${e.checks} over ${seconds(e.to - e.from)}, until ${formatTime(e.to)}</td>
  </tr>`;
}

/** Management > Failover: peer status checks and role changes over time, newest first. */
export function historySection(entries: HistoryEntry[]): SafeHtml {
  return html`<h2>Status history</h2>
    <p class="help">
      Each row is a role change of this appliance or a run of peer status checks (heartbeats) that
      saw the same thing; the last ${entries.length} entries are kept, also across restarts.
    </p>
    <table id="failover-history" class="list">
      ${tableHead(['Since', 'What', 'Outcome', 'Detail'])}
      <tbody>
        ${
          entries.length
            ? entries.map(row)
            : html`<tr class="empty">
                <td colspan="4">Nothing yet: checks begin once a relationship is established.</td>
              </tr>`
        }
      </tbody>
    </table>`;
}
