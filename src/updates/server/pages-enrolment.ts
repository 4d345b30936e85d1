import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatTime, html, type SafeHtml, tableHead } from '../../shared/web/html.js';
import type { AdminSession } from './admin-auth.js';
import { createRegistrationToken, DEFAULT_TOKEN_TTL_HOURS } from './enrolment.js';
import type { UpdateServer } from './update-server.js';
import { approveKey, confirmAppliance, revokeAppliance } from './operator.js';
import { button, notice, page, sendPage } from './page.js';
import type { KnownAppliance } from './store.js';

type Guarded = (
  handler: (session: AdminSession, req: FastifyRequest, reply: FastifyReply) => unknown,
) => (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

const fieldsOf = (req: FastifyRequest) => (req.body ?? {}) as Record<string, string | undefined>;

/**
 * The operator's enrolment actions (issue 18, finding 4): approve or re-key a waiting key by its
 * fingerprint, create a registration token, revoke an appliance's key, confirm an appliance
 * enrolled before proof was required. Each is logged with the operator's address.
 */
export function registerEnrolmentPages(
  app: FastifyInstance,
  server: UpdateServer,
  guarded: Guarded,
): void {
  const { store } = server;
  app.post(
    '/admin/approve',
    guarded((_s, req, reply) => {
      const body = fieldsOf(req);
      const done = approveKey(store, { key: body.key ?? '', rekey: body.rekey === 'yes' });
      req.log.info({ ...done, ip: req.ip }, 'appliance key approved');
      return notice(
        reply,
        `${done.appliance} ${done.rekeyed ? 're-keyed' : 'enrolled'}: identity key ${done.keyId.slice(0, 16)}… may check for updates and download.`,
      );
    }),
  );
  app.post(
    '/admin/revoke',
    guarded((_s, req, reply) => {
      const a = revokeAppliance(store, fieldsOf(req).appliance ?? '');
      req.log.warn({ appliance: a.name, keyId: a.keyId, ip: req.ip }, 'appliance key revoked');
      return notice(
        reply,
        `${a.name}: identity key ${a.keyId.slice(0, 16)}… revoked. The name may be enrolled again with another key.`,
      );
    }),
  );
  app.post(
    '/admin/confirm',
    guarded((_s, req, reply) => {
      const a = confirmAppliance(store, fieldsOf(req).appliance ?? '');
      req.log.info({ appliance: a.name, keyId: a.keyId, ip: req.ip }, 'appliance confirmed');
      return notice(reply, `${a.name} reviewed: its key stays enrolled.`);
    }),
  );
  app.post(
    '/admin/tokens',
    guarded((_s, req, reply) => {
      const body = fieldsOf(req);
      const ttl = body.ttlHours?.trim() ? Number(body.ttlHours) : undefined;
      const appliance = body.appliance?.trim() || undefined;
      const t = createRegistrationToken(store, { appliance, ttlHours: ttl });
      req.log.info({ token: t.id, appliance, ip: req.ip }, 'registration token created');
      // Shown once, in this answer only (never in a URL).
      return sendPage(reply, tokenPage(t, appliance));
    }),
  );
}

function tokenPage(t: { token: string; id: string; expiresAt: number }, appliance?: string) {
  return page(
    'Registration token',
    html`<p class="note">
        Shown once. Enter it with the update server settings on the Updates page of
        ${appliance ? html`appliance <strong>${appliance}</strong>` : 'the appliance'} (or beside
        its download key on this server's download page). It enrols one appliance, once, until
        ${new Date(t.expiresAt).toISOString()}.
      </p>
      <label class="field"
        ><span>Registration token ${t.id}</span>
        <input id="registration-token" readonly value="${t.token}" />
      </label>
      <p><a href="/admin">Back</a></p>`,
  );
}

const VIA: Record<KnownAppliance['enrolledVia'], string> = {
  token: 'registration token',
  approval: 'operator approval',
  'before-proof': 'before proof was required: review',
};

/** The Enrolled cell and enrolment buttons of an appliance's row. */
export function enrolmentCells(session: AdminSession, a: KnownAppliance): SafeHtml {
  const review = a.enrolledVia === 'before-proof';
  return html`<td class="${review ? 'warning' : ''}" data-enrolled-via="${a.enrolledVia}">
      ${VIA[a.enrolledVia]}
      ${review ? button(session, '/admin/confirm', { appliance: a.name }, 'Keep') : ''}
    </td>
    <td><code class="small">${a.keyId}</code></td>`;
}

export const revokeButton = (session: AdminSession, a: KnownAppliance) =>
  button(session, '/admin/revoke', { appliance: a.name }, 'Revoke key', 'danger');

/** Keys waiting for approval, and the registration tokens. */
export function enrolmentSections(server: UpdateServer, session: AdminSession): SafeHtml {
  const pending = server.store.enrolment.pendingKeys();
  const tokens = server.store.enrolment.tokens();
  const now = Date.now();
  return html`<h2>Waiting for approval</h2>
    <p class="note">
      Keys that asked for updates and are not enrolled. Approve one only if the appliance's Updates
      page shows the same identity key fingerprint.
    </p>
    <table class="list" id="pending-keys">
      ${tableHead(['Appliance', 'Identity key fingerprint', 'From', 'Last asked', ['', 'actions']])}
      <tbody>
        ${
          pending.length === 0
            ? html`<tr class="empty">
                <td colspan="5">No key is waiting.</td>
              </tr>`
            : pending.map((p) => {
                const taken = !!server.store.appliance(p.name);
                return html`<tr data-key="${p.keyId}" data-appliance="${p.name}">
                  <td>${p.name}${taken ? html` <em>(enrolled with another key)</em>` : ''}</td>
                  <td><code class="small">${p.keyId}</code></td>
                  <td>${p.address}</td>
                  <td class="nowrap">${formatTime(p.lastSeenAt)}</td>
                  <td class="actions">
                    ${button(
                      session,
                      '/admin/approve',
                      taken ? { key: p.keyId, rekey: 'yes' } : { key: p.keyId },
                      taken ? 'Re-key' : 'Approve',
                      taken ? 'danger' : 'secondary',
                    )}
                  </td>
                </tr>`;
              })
        }
      </tbody>
    </table>
    <h2>Registration tokens</h2>
    <form method="post" action="/admin/tokens" id="token-form" class="stacked compact">
      <input type="hidden" name="_csrf" value="${session.csrfToken}" />
      <label class="field"
        ><span>For appliance (optional)</span><input name="appliance" id="f-appliance"
      /></label>
      <label class="field"
        ><span>Valid for (hours)</span
        ><input name="ttlHours" id="f-ttlHours" type="number" value="${DEFAULT_TOKEN_TTL_HOURS}"
      /></label>
      <div class="buttons"><button type="submit">Create registration token</button></div>
    </form>
    <table class="list" id="registration-tokens">
      ${tableHead(['Token', 'For', 'Expires', 'Used'])}
      <tbody>
        ${tokens.map(
          (t) =>
            html`<tr data-token="${t.id}">
              <td><code class="small">${t.id}</code></td>
              <td>${t.appliance ?? 'any appliance not enrolled'}</td>
              <td class="nowrap">${t.expiresAt <= now ? 'expired' : formatTime(t.expiresAt)}</td>
              <td>${t.usedAt ? html`${formatTime(t.usedAt)} by ${t.usedBy}` : '—'}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}
