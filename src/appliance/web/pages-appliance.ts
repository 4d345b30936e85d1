import type { FastifyInstance } from 'fastify';
import type { Appliance } from '../context.js';
import { formatBytes, formatTime, html } from '../../shared/web/html.js';
import { layout } from '../../shared/web/kit.js';
import { pages } from './page-host.js';
import { registerBackupPages } from './pages-backup.js';
import { registerLogPages } from './pages-logs.js';
import { registerMonitoringPages } from './pages-monitoring.js';
import { registerNetworkingPages } from './pages-networking.js';

/** /appliance area pages: Status, Networking > IP Configuration, Updates, Backup, Monitoring, Log files. */
export function registerAppliancePages(app: FastifyInstance, appliance: Appliance): void {
  const p = pages(app, appliance, 'appliance');
  // Between Networking (20) and Updates (40) come the traffic and update plugins' links.
  p.link('/appliance/status', 'Status', 10);
  p.link('/appliance/networking', 'Networking', 20);
  p.link('/appliance/backup', 'Backup', 50);
  p.link('/appliance/monitoring', 'Monitoring', 60);
  p.link('/appliance/logs', 'Log files', 70);

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

  registerNetworkingPages(p, appliance);
  registerBackupPages(p, appliance);
  registerMonitoringPages(p);
  registerLogPages(p);
}
