import { NewEnrolmentToken } from '../enrolment-tokens.js';
import { parseInput } from '../../shared/http/operations.js';
import { formatTime, html, tableHead, tableOf, type SafeHtml } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import type { JumpClientsSite } from './site.js';

type PageContext = kit.PageContext<JumpClientsSite>;

/** The address Jump Clients should use: the site hostname, else the one this page was opened at. */
function siteAddress(ctx: PageContext): string {
  const host = ctx.req.headers.host ?? '';
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  const port = m?.[2] ?? '443';
  const name = ctx.appliance.settings.get().siteHostname || m?.[1] || 'SITE-HOSTNAME';
  return `${name}:${port}`;
}

const TOKEN_FIELDS = ['uses', 'expiresInHours', 'name', 'group', 'rebind'];

function tokensSection(
  ctx: PageContext,
  created: string | undefined,
  problem: kit.FormProblem,
  values: Record<string, string | undefined>,
): SafeHtml {
  const tokens = ctx.appliance.jumpClientIdentities.tokens.list();
  return html`<section id="enrolment-tokens">
    <h2>Enrolment tokens</h2>
    <p class="help">
      Each Jump Client installation generates its own key pair and enrols it once with a token; the
      site then binds the Jump Client's name to that key. A token is shown once.
    </p>
    ${
      created
        ? html`<p class="notice" role="status">
            New token (copy it now, it is not shown again):
            <code id="new-token" class="secret">${created}</code>
          </p>`
        : ''
    }
    ${kit.formAlert(problem, TOKEN_FIELDS)}
    <form method="post" action="/login/jump-clients/tokens" class="grid">
      ${kit.csrfInput(ctx)} ${kit.field('Uses', 'uses', values.uses ?? '1', problem.fields)}
      ${kit.field('Valid for (hours)', 'expiresInHours', values.expiresInHours ?? '24', problem.fields)}
      ${kit.field('Only for the Jump Client named', 'name', values.name, problem.fields)}
      ${kit.field('Group', 'group', values.group, problem.fields)}
      ${kit.checkbox(
        'Replaces the installation holding that name (a reinstalled computer)',
        'rebind',
        kit.ticked(values.rebind),
        problem.fields,
      )}
      <button type="submit">Create token</button>
    </form>
    <table id="tokens" class="list">
      ${tableHead(['Id', 'For', 'Uses left', 'Expires', 'Created by', ''])}
      <tbody>
        ${tokens.map(
          (t) =>
            html`<tr data-token="${t.id}">
              <td><code>${t.id.slice(0, 8)}</code></td>
              <td>${t.name ?? 'any name'}${t.rebind ? ' (replaces)' : ''}</td>
              <td class="num">${t.usesLeft}</td>
              <td>${formatTime(Date.parse(t.expiresAt))}</td>
              <td>${t.createdBy}</td>
              <td>
                ${kit.actionButton(ctx, `/login/jump-clients/tokens/${t.id}/delete`, 'Delete')}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function installationsSection(ctx: PageContext): SafeHtml {
  const ids = ctx.appliance.jumpClientIdentities;
  const open = ids.legacyKeyOpen();
  return html`<section id="installations">
    <h2>Installations</h2>
    <table id="installations-list" class="list">
      ${tableHead(['Name', 'Group', 'Key fingerprint', 'Enrolled', 'With', 'State', ''])}
      <tbody>
        ${ids.list().map(
          (i) =>
            html`<tr data-installation="${i.id}" data-name="${i.name}">
              <td>${i.name}</td>
              <td>${i.group}</td>
              <td><code>${i.fingerprint.slice(0, 16)}</code></td>
              <td>${formatTime(Date.parse(i.enrolledAt))} from <code>${i.enrolledFrom}</code></td>
              <td>${i.enrolledWith === 'legacy-key' ? 'legacy key' : 'token'}</td>
              <td>${i.revokedAt ? `revoked by ${i.revokedBy}` : 'active'}</td>
              <td>
                ${
                  i.revokedAt
                    ? ''
                    : kit.actionButton(
                        ctx,
                        `/login/jump-clients/installations/${i.id}/revoke`,
                        'Revoke',
                        'danger',
                      )
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h3>Upgrade window</h3>
    <p id="legacy-key-state">
      ${
        open
          ? 'Open: installations of the previous release, holding only the site-wide Jump Client key, enrol themselves under a name no installation holds (trust on first use). Close it once every installation is listed above.'
          : 'Closed: only enrolment tokens enrol installations.'
      }
    </p>
    ${kit.actionButton(
      ctx,
      `/login/jump-clients/legacy-key/${open ? 'close' : 'open'}`,
      open ? 'Close the upgrade window' : 'Open the upgrade window',
    )}
  </section>`;
}

function connectedSection(ctx: PageContext): SafeHtml {
  const { appliance } = ctx;
  const jumpClients = appliance.routing.jumpClients();
  return html`<h2>Connected Jump Clients</h2>
    <table id="jump-clients" class="list">
      ${tableOf(
        [
          'Name',
          'Group',
          'Version',
          'Connected to',
          'Connected since',
          'Allowed targets',
          'Sessions',
        ],
        jumpClients,
        'No Jump Client is connected.',
        (j) =>
          html`<tr data-jump-client="${j.name}">
            <td>${j.name}</td>
            <td>${j.group ?? ''}</td>
            <td>
              <span class="tag ${j.version === appliance.productVersion ? '' : 'warn'}"
                >${j.version}</span
              >
            </td>
            <td>${j.node}</td>
            <td>${formatTime(j.connectedAt)}</td>
            <td>${(j.targets ?? []).map((t) => html`<code>${t}</code> `)}</td>
            <td class="num">${j.sessions}</td>
          </tr>`,
      )}
    </table>`;
}

function jumpClientsPage(
  ctx: PageContext,
  opts: {
    created?: string;
    problem?: kit.FormProblem;
    values?: Record<string, string | undefined>;
  } = {},
) {
  const command = `gatehouse jump-client --site ${siteAddress(ctx)} --fingerprint ${ctx.appliance.certificateFingerprint} --token-file jump-client.token --name "$(hostname)" --group default --allow 127.0.0.1:22`;
  const problem = opts.problem ?? kit.NO_PROBLEM;
  ctx.reply.code(problem.status);
  return kit.layout(
    ctx,
    'Jump Clients',
    html`${tokensSection(ctx, opts.created, problem, opts.values ?? {})}
      <section id="install">
        <h2>Install a Jump Client</h2>
        <p>
          On the remote computer, save an enrolment token in <code>jump-client.token</code> (mode
          600), then run (one <code>--allow</code> per target sessions may open):
        </p>
        <pre id="jump-client-command"><code>${command}</code></pre>
      </section>
      ${installationsSection(ctx)} ${connectedSection(ctx)}`,
  );
}

/** /login > Jump Clients: enrolment tokens, installations (revoke), connected Jump Clients. */
export function registerJumpClientPages(p: kit.Pages<JumpClientsSite>): void {
  p.get('/login/jump-clients', (ctx) => jumpClientsPage(ctx));
  p.post('/login/jump-clients/tokens', (ctx) => {
    const b = kit.formBody(ctx);
    const values = Object.fromEntries(TOKEN_FIELDS.map((k) => [k, b[k]?.trim()]));
    try {
      const input = parseInput(
        NewEnrolmentToken,
        {
          uses: values.uses,
          expiresInHours: values.expiresInHours,
          ...(values.name ? { name: values.name } : {}),
          ...(values.group ? { group: values.group } : {}),
          rebind: kit.ticked(values.rebind),
        },
        'body',
      );
      const created = ctx.appliance.jumpClientIdentities.tokens.create(ctx.actor, input);
      return jumpClientsPage(ctx, { created: created.token });
    } catch (e) {
      return jumpClientsPage(ctx, { problem: kit.formErrors(e), values });
    }
  });
  p.post('/login/jump-clients/tokens/:id/delete', (ctx) => {
    ctx.appliance.jumpClientIdentities.tokens.delete(ctx.actor, paramId(ctx));
    return kit.redirect(ctx.reply, '/login/jump-clients', 'The enrolment token was deleted.');
  });
  p.post('/login/jump-clients/installations/:id/revoke', (ctx) => {
    const i = ctx.appliance.jumpClientIdentities.revoke(ctx.actor, paramId(ctx));
    return kit.redirect(
      ctx.reply,
      '/login/jump-clients',
      `The installation of "${i.name}" is revoked: every appliance of the site refuses it and cuts its connection.`,
    );
  });
  for (const open of [true, false])
    p.post(`/login/jump-clients/legacy-key/${open ? 'open' : 'close'}`, (ctx) => {
      ctx.appliance.jumpClientIdentities.setLegacyKeyOpen(ctx.actor, open);
      return kit.redirect(
        ctx.reply,
        '/login/jump-clients',
        `The upgrade window is ${open ? 'open' : 'closed'}.`,
      );
    });
}

const paramId = (ctx: PageContext) => (ctx.req.params as { id: string }).id;
