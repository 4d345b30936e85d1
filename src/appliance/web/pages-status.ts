import type { ConnectedClient, LiveSession } from '../../sessions/gateway.js';
import { formatBytes, formatTime, html, tableOf } from '../../shared/web/html.js';
import { actionButton, layout, redirect } from '../../shared/web/kit.js';
import { type PageContext, type Pages } from './page-host.js';
import { upgradeWavesSection } from '../../sessions/http/upgrade-waves-view.js';
import { resumeUpgrades } from '../../sessions/http/api-jump-client-upgrades.js';

const KIND: Record<string, string> = {
  'jump-client': 'Jump Client',
  'representative-console': 'Representative console',
  'customer-client': 'Customer client',
};

/** Each live session once, though both its console and its Jump Client list it. */
export function liveSessionsOf(clients: ConnectedClient[]): LiveSession[] {
  const byId = new Map<string, LiveSession>();
  for (const c of clients) for (const s of c.sessions) byId.set(s.id, s);
  return [...byId.values()].sort((a, b) => a.startedAt - b.startedAt);
}

/** A customer client's name says whose customer it is. */
const clientName = (c: ConnectedClient) =>
  c.representative ? `${c.name} (customer of ${c.representative})` : c.name;

// static/information.js refreshes the rows of both tables live by fetching the page again.
const clientRow = (c: ConnectedClient, productVersion: string) =>
  html`<tr data-client="${c.id}">
    <td>${KIND[c.kind] ?? c.kind}</td>
    <td>${clientName(c)}</td>
    <td><code>${c.address}</code></td>
    <td>
      <span class="tag ${c.version === productVersion ? '' : 'warn'}">${c.version}</span>
    </td>
    <td>${formatTime(c.connectedAt)}</td>
    <td class="num">${c.sessions.length}</td>
  </tr>`;

/** A resumable session's moves and total pause ("2 (3.4 s)"), 0 for one that never moved. */
const movedText = (s: LiveSession) =>
  s.moves ? `${s.moves} (${((s.pausedMs ?? 0) / 1000).toFixed(1)} s)` : '0';

const sessionRow = (s: LiveSession) =>
  html`<tr data-session="${s.id}">
    <td>${formatTime(s.startedAt)}</td>
    <td>${s.representative}</td>
    <td>${s.jumpClient}</td>
    <td><code>${s.target}</code></td>
    <td class="num">${formatBytes(s.bytesOut)}</td>
    <td class="num">${formatBytes(s.bytesIn)}</td>
    <td class="num">${movedText(s)}</td>
  </tr>`;

function informationPage(ctx: PageContext) {
  const { appliance } = ctx;
  const clients = appliance.clients.list();
  return layout(
    ctx,
    'Status > Information',
    html`<dl class="facts">
        <dt>Appliance</dt>
        <dd id="info-name">${appliance.identity.name}</dd>
        <dt>Role</dt>
        <dd id="info-role">${appliance.role}</dd>
        <dt>Product version</dt>
        <dd id="info-product-version">${appliance.productVersion}</dd>
        <dt>Base version</dt>
        <dd>${appliance.baseVersion}</dd>
        <dt>Site hostname</dt>
        <dd>
          ${appliance.settings.get().siteHostname || html`<span class="muted">not set (Configuration)</span>`}
        </dd>
        <dt>Site CA fingerprint</dt>
        <dd>
          <code id="info-site-ca">${appliance.siteIdentity.fingerprint}</code>
          <span class="help"
            >Pin this in clients (<code>--site-ca</code>): every appliance of the site presents a
            certificate it issued, so they keep trusting the site after a failover or traffic
            switch.</span
          >
        </dd>
      </dl>
      <p class="muted small" id="info-refresh">
        As of ${formatTime(Date.now())}; reload the page to refresh.
      </p>
      <h2>Connected Clients</h2>
      <table id="clients" class="list" data-product-version="${appliance.productVersion}">
        ${tableOf(
          ['Kind', 'Name', 'Address', 'Version', 'Connected since', 'Sessions'],
          clients,
          'No clients are connected.',
          (c) => clientRow(c, appliance.productVersion),
        )}
      </table>
      ${actionButton(ctx, '/login/status/clients/reconnect', 'Send clients to the site')}
      <p class="help">
        After a DNS or NAT swing away from this appliance, its clients stay until they reconnect:
        this asks each to reconnect through the site hostname. Sessions in progress go on.
      </p>
      <h2>Live Sessions</h2>
      <table id="live-sessions" class="list">
        ${tableOf(
          [
            'Started',
            'Representative',
            'Jump Client',
            'Target',
            'Bytes to target',
            'Bytes from target',
            'Moved (paused)',
          ],
          liveSessionsOf(clients),
          'No session is running.',
          sessionRow,
        )}
      </table>
      ${upgradeWavesSection(
        appliance.clients.upgrades.status(),
        actionButton(
          ctx,
          '/login/status/jump-client-upgrades/resume',
          'Resume Jump Client upgrades',
        ),
      )}
      <script src="/static/information.js" defer></script>`,
  );
}

/** Status > Information (live through static/information.js). */
export function registerStatusPages(p: Pages): void {
  p.get('/login/status', (ctx) => ctx.reply.redirect('/login/status/information', 303));
  p.get('/login/status/information', (ctx) => informationPage(ctx));
  p.post('/login/status/clients/reconnect', (ctx) => {
    const asked = ctx.appliance.sendClientsToSite(ctx.actor);
    return redirect(
      ctx.reply,
      '/login/status/information',
      `Asked ${asked} client${asked === 1 ? '' : 's'} to reconnect through the site.`,
    );
  });
  p.post('/login/status/jump-client-upgrades/resume', (ctx) => {
    const r = resumeUpgrades(ctx.appliance, ctx.actor);
    return redirect(
      ctx.reply,
      '/login/status/information',
      r.resumed
        ? `Resumed the Jump Client upgrades${r.skipped.length ? ` without ${r.skipped.join(', ')}` : ''}.`
        : 'The Jump Client upgrades were not halted.',
    );
  });
}
