import type { FastifyInstance } from 'fastify';
import type { Appliance } from '../context.js';
import { formatBytes, formatTime, html } from './html.js';
import { layout, pages } from './kit.js';
import { registerBackupPages } from './pages-backup.js';
import { registerNetworkingPages } from './pages-networking.js';

/** /appliance area pages: Status, Networking > IP Configuration, Updates, Backup. */
export function registerAppliancePages(app: FastifyInstance, appliance: Appliance): void {
  const p = pages(app, appliance, 'appliance');

  app.get('/appliance', async (_req, reply) => reply.redirect('/appliance/status', 303));

  p.get('/appliance/status', (ctx) => {
    const s = appliance.status();
    return layout(
      ctx,
      'Status',
      html`<dl class="facts">
        <dt>Name</dt>
        <dd id="status-name">${s.name}</dd>
        <dt>Role</dt>
        <dd>${s.role}</dd>
        <dt>Product version</dt>
        <dd id="status-product-version">${s.productVersion}</dd>
        <dt>Base version</dt>
        <dd id="status-base-version">${s.baseVersion}</dd>
        <dt>Started</dt>
        <dd>${formatTime(appliance.startedAt)} (up ${Math.floor(s.uptimeSeconds / 60)} min)</dd>
        <dt>Hostnames</dt>
        <dd>${s.hostnames.join(', ') || '—'}</dd>
        <dt>Addresses</dt>
        <dd>
          ${s.addresses.map((a) => html`<span class="tag ${a.enabled ? '' : 'off'}">${a.address} (${a.kind}${a.enabled ? '' : ', disabled'})</span> `)}
        </dd>
        <dt>TLS certificate</dt>
        <dd><code>${s.certificateFingerprint}</code></dd>
        <dt>Disk</dt>
        <dd>${formatBytes(s.disk.freeBytes)} free of ${formatBytes(s.disk.totalBytes)}</dd>
      </dl>`,
    );
  });

  // The update server and package installer come next; this page already has their places.
  p.get('/appliance/updates', (ctx) =>
    layout(
      ctx,
      'Updates',
      html`<section id="installed">
          <h2>Installed</h2>
          <dl class="facts">
            <dt>Product version</dt>
            <dd id="installed-product-version">${appliance.productVersion}</dd>
            <dt>Base version</dt>
            <dd id="installed-base-version">${appliance.baseVersion}</dd>
          </dl>
        </section>
        <section id="available">
          <h2>Available Updates</h2>
          <div class="toolbar">
            <button type="button" disabled>Check for updates</button>
            <span class="muted" id="update-server"
              >No update server is configured yet, so there is nothing to check.</span
            >
          </div>
          <table id="available-updates" class="list">
            <thead>
              <tr>
                <th>Package</th>
                <th>Kind</th>
                <th>Version</th>
                <th>Requires base</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              <tr class="empty">
                <td colspan="5">No updates are available.</td>
              </tr>
            </tbody>
          </table>
        </section>
        <section id="manual">
          <h2>Manual Installation</h2>
          <p class="note">
            For an appliance without access to the update server: create an Appliance Download Key
            here, fetch the packages it allows from the update server on another machine, bring them
            on removable media and upload them here. Base software updates are installed before the
            product updates that need them; a base update restarts the appliance.
          </p>
        </section>`,
    ),
  );

  registerNetworkingPages(p, appliance);
  registerBackupPages(p, appliance);
}
