import { html, tableHead } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import { type PageContext, type Pages } from './page-host.js';

function page(
  ctx: PageContext,
  problem: kit.FormProblem,
  created?: { label: string; token: string },
) {
  ctx.reply.code(problem.status);
  const tokens = ctx.appliance.scrapeTokens.list();
  return kit.layout(
    ctx,
    'Monitoring',
    html`<section id="metrics">
        <p class="note">
          Prometheus reads this appliance's metrics at <code>GET /metrics</code> on this TLS port,
          with a scrape token as <code>Authorization: Bearer</code>. Create one token per Prometheus
          server; the token is shown once. Alert rules are in
          <code>deploy/prometheus/gatehouse.rules.yml</code>.
        </p>
        ${
          created
            ? html`<div class="notice" role="status" id="created-token">
                <p>Scrape token "${created.label}" — copy it now, it is not shown again:</p>
                <p><code id="scrape-token">${created.token}</code></p>
              </div>`
            : ''
        }
        <table id="scrape-tokens">
          ${tableHead(['Label', 'Created', 'By', ''])}
          <tbody>
            ${
              tokens.length
                ? tokens.map(
                    (t) =>
                      html`<tr>
                        <td>${t.label}</td>
                        <td>${t.createdAt}</td>
                        <td>${t.createdBy}</td>
                        <td>
                          ${kit.actionButton(ctx, `/appliance/monitoring/tokens/${t.id}/revoke`, 'Revoke', 'danger')}
                        </td>
                      </tr>`,
                  )
                : html`<tr>
                    <td colspan="4" class="muted">
                      No scrape tokens: /metrics refuses every scrape.
                    </td>
                  </tr>`
            }
          </tbody>
        </table>
      </section>
      <section id="create">
        <h2>Create a scrape token</h2>
        ${kit.formAlert(problem, ['label'])}
        <form method="post" action="/appliance/monitoring/tokens" class="stacked compact">
          ${kit.csrfInput(ctx)}
          ${kit.field('Label', 'label', undefined, problem.fields, { help: 'e.g. prometheus-1', required: true })}
          <div class="buttons"><button type="submit">Create token</button></div>
        </form>
      </section>`,
  );
}

/** /appliance > Monitoring: scrape tokens of GET /metrics. */
export function registerMonitoringPages(p: Pages): void {
  p.get('/appliance/monitoring', (ctx) => page(ctx, kit.NO_PROBLEM));
  p.post('/appliance/monitoring/tokens', (ctx) => {
    try {
      const created = ctx.appliance.scrapeTokens.create(ctx.actor, kit.formBody(ctx).label ?? '');
      ctx.reply.header('cache-control', 'no-store');
      return page(ctx, { ...kit.NO_PROBLEM, status: 201 }, created);
    } catch (e) {
      return page(ctx, kit.formErrors(e));
    }
  });
  p.post('/appliance/monitoring/tokens/:id/revoke', (ctx) => {
    const id = (ctx.req.params as { id: string }).id;
    ctx.appliance.scrapeTokens.revoke(ctx.actor, id);
    return kit.redirect(ctx.reply, '/appliance/monitoring', 'Scrape token revoked.');
  });
}
