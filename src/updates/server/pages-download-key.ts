import type { FastifyInstance } from 'fastify';
import { formatBytes, html, tableHead } from '../../shared/web/html.js';
import { isGatehouseError, type GatehouseError } from '../../shared/errors.js';
import type { DownloadKeyClaims } from '../download-key.js';
import { availableFor, packageFileName } from './catalogue.js';
import { contactAppliance } from './enrolment.js';
import type { UpdateServer } from './update-server.js';
import { page, sendPage } from './page.js';
import type { PublishedPackage } from './store.js';
import { issueTicket, TICKET_TTL_MS } from './tickets.js';

/**
 * The download-key page (S10): someone on a machine with network access pastes the Appliance
 * Download Key of an air-gapped appliance and gets the packages that apply to it, in the order
 * to install them, to carry over on removable media.
 */
export function registerDownloadKeyPages(app: FastifyInstance, server: UpdateServer): void {
  app.get('/', async (_req, reply) => sendPage(reply, formPage('')));

  app.post('/', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const token = typeof body.downloadKey === 'string' ? body.downloadKey : '';
    const registrationToken =
      typeof body.registrationToken === 'string' && body.registrationToken.trim()
        ? body.registrationToken
        : undefined;
    let claims: DownloadKeyClaims;
    try {
      claims = contactAppliance(server.store, token, {
        address: req.ip,
        log: req.log,
        registrationToken,
      });
    } catch (e) {
      if (!isGatehouseError(e)) throw e;
      return sendPage(reply, formPage(token, e), e.status);
    }
    const now = Date.now();
    const packages = availableFor(server.store, claims).map((p) => ({
      ...p,
      href: `/api/v1/packages/${p.sha256}?ticket=${issueTicket(server.ticketSecret, {
        keyId: claims.keyId,
        sha256: p.sha256,
        expiresAt: now + TICKET_TTL_MS,
      })}`,
    }));
    req.log.info(
      { appliance: claims.appliance, available: packages.length },
      'download key accepted',
    );
    return sendPage(reply, packagesPage(claims, packages, now + TICKET_TTL_MS));
  });
}

function formPage(value: string, error?: GatehouseError) {
  return page(
    'Download updates with an Appliance Download Key',
    html`<p class="note">
        For an appliance without access to this update server: on the appliance, open Updates and
        generate an Appliance Download Key; paste it here; download the packages listed, copy them
        to removable media, then upload them on the appliance's Updates page and choose Update
        Software.
      </p>
      ${
        error
          ? html`<p class="error" role="alert" id="download-key-error" data-code="${error.code}">
              ${error.message}
            </p>`
          : ''
      }
      <form method="post" action="/" id="download-key-form">
        <label class="field ${error ? 'has-error' : ''}"
          ><span>Appliance Download Key</span>
          <textarea
            name="downloadKey"
            id="f-downloadKey"
            rows="8"
            required
            spellcheck="false"
            aria-invalid="${error ? 'true' : 'false'}"
          >
${value}</textarea>
          <small class="help">It starts with "ghdk1." and is valid for a limited time.</small>
        </label>
        <label class="field ${error?.code === 'REGISTRATION_TOKEN_INVALID' ? 'has-error' : ''}"
          ><span>Registration token (first use of an appliance only)</span>
          <input name="registrationToken" id="f-registrationToken" autocomplete="off" />
          <small class="help"
            >From this update server's operator; starts with "ghrt1.". Not needed once the appliance
            is enrolled, or if the operator approves its key fingerprint instead.</small
          >
        </label>
        <div class="buttons"><button type="submit">Show available updates</button></div>
      </form>
      <p class="muted small">
        Operators of this update server sign in at <a href="/admin">/admin</a>.
      </p>`,
  );
}

function packagesPage(
  claims: DownloadKeyClaims,
  packages: (PublishedPackage & { href: string })[],
  linksExpireAt: number,
) {
  return page(
    `Updates for ${claims.appliance}`,
    html`<dl class="facts">
        <dt>Appliance</dt>
        <dd id="appliance-name">${claims.appliance}</dd>
        <dt>Runs</dt>
        <dd>product ${claims.product}, base ${claims.base}</dd>
        <dt>Key expires</dt>
        <dd>${claims.expiresAt}</dd>
      </dl>
      ${
        packages.length === 0
          ? html`<p class="empty" id="no-updates">
              No updates are available for ${claims.appliance}. Packages already downloaded for this
              appliance are not listed again; the operator of this update server can make one
              available again.
            </p>`
          : html`<p class="note">
                Download every file, in this order, and install them on the appliance in the same
                order: a base update first (the appliance restarts), then the product update. The
                links work until ${new Date(linksExpireAt).toISOString()}.
              </p>
              <table class="list" id="packages">
                ${tableHead(['#', 'Update', 'Version', 'Requires', 'Size', 'SHA-256', 'Release notes', ''])}
                <tbody>
                  ${packages.map(
                    (p, i) =>
                      html`<tr data-kind="${p.kind}" data-version="${p.version}">
                        <td>${i + 1}</td>
                        <td>
                          ${p.kind === 'base' ? 'Base Software update' : 'Gatehouse software update'}
                        </td>
                        <td>${p.version}</td>
                        <td>${p.requires.base ? `base ${p.requires.base}` : '—'}</td>
                        <td class="nowrap">${formatBytes(p.size)}</td>
                        <td><code class="small">${p.sha256}</code></td>
                        <td>${p.releaseNotes}</td>
                        <td class="actions">
                          <a class="button" href="${p.href}" download="${packageFileName(p)}"
                            >Download</a
                          >
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
      }
      <p><a href="/">Use another key</a></p>`,
  );
}
