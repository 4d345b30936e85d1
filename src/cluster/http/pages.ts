import type { NodeView } from '../cluster-service.js';
import { RegionName } from '../nodes-store.js';
import { html, tableHead } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import type { ClusterSite } from './site.js';

type PageContext = kit.PageContext<ClusterSite>;

const TITLE = 'Management > Cluster';
const PATH = '/login/management/cluster';

interface AddValues {
  host: string;
  port: string;
  region: string;
}

const ago = (t: number | null) =>
  t ? `${Math.max(0, Math.round((Date.now() - t) / 1000))} s ago` : 'never';

function state(n: NodeView, version: string) {
  if (!n.lastContact)
    return html`<span class="tag warn">${n.lastError ?? 'not contacted yet'}</span>`;
  if (n.lastError) return html`<span class="tag bad" title="${n.lastError}">unreachable</span>`;
  if (n.status && n.status.productVersion !== version)
    return html`<span class="tag warn">other version: gets no clients</span>`;
  if (n.status?.update) return html`<span class="tag warn">updating (${n.status.update})</span>`;
  if (!n.accepting)
    return n.status?.connectedClients
      ? html`<span class="tag warn">draining</span>`
      : html`<span class="tag">drained</span>`;
  return n.eligible
    ? html`<span class="tag ok">serving</span>`
    : html`<span class="tag warn">not ready</span>`;
}

function nodeRow(ctx: PageContext, n: NodeView) {
  const version = ctx.appliance.productVersion;
  return html`<tr data-node="${n.name}">
    <td>${n.name}</td>
    <td>${n.region}</td>
    <td><code>${n.host}:${n.port}</code></td>
    <td>${n.status?.productVersion ?? '—'}</td>
    <td class="state">${state(n, version)}</td>
    <td class="num clients">${n.status?.connectedClients ?? '—'}</td>
    <td>${ago(n.lastContact)}</td>
    <td class="accepting">${n.accepting ? 'yes' : 'no'}</td>
    <td class="actions">
      ${kit.actionButton(
        ctx,
        `${PATH}/nodes/${encodeURIComponent(n.name)}/${n.accepting ? 'stop-accepting' : 'accept'}`,
        n.accepting ? 'Stop accepting' : 'Accept new clients',
      )}
      ${kit.actionButton(ctx, `${PATH}/nodes/${encodeURIComponent(n.name)}/remove`, 'Remove', 'danger')}
    </td>
  </tr>`;
}

function page(ctx: PageContext, values: AddValues | undefined, problem: kit.FormProblem) {
  const { appliance } = ctx;
  const membership = appliance.membership.get();
  ctx.reply.code(problem.status);
  if (membership)
    return kit.layout(
      ctx,
      TITLE,
      html`<p class="note" id="cluster-member">
          This appliance is a traffic node of the cluster whose primary node is
          <strong>${membership.primary}</strong>. The primary node manages it: its configuration
          comes from there and its session records go back there.
        </p>
        <dl class="facts">
          <dt>Region</dt>
          <dd>${membership.region}</dd>
          <dt>Accepting New Client Connections</dt>
          <dd id="member-accepting">${membership.accepting ? 'yes' : 'no (draining)'}</dd>
          <dt>Connected clients</dt>
          <dd>${appliance.clients.list().length}</dd>
        </dl>`,
    );
  const nodes = appliance.cluster.view();
  const v = values ?? { host: '', port: '', region: '' };
  return kit.layout(
    ctx,
    TITLE,
    html`<p class="note">
        A primary node sends each new client to a traffic node of its region that is accepting new
        client connections and runs this appliance's version (${appliance.productVersion}); the
        least loaded first. A node that stops accepting keeps its sessions until they end
        (draining). Session records, logs and recordings come back here.
      </p>
      ${
        nodes.length
          ? html`<table id="cluster-nodes" class="list">
                ${tableHead(['Node', 'Region', 'Address', 'Version', 'State', 'Clients', 'Last contact', 'Accepting', ''])}
                <tbody>
                  ${nodes.map((n) => nodeRow(ctx, n))}
                </tbody>
              </table>
              ${kit.actionButton(ctx, `${PATH}/sync`, 'Sync Now')}`
          : html`<p class="muted" id="cluster-empty">
              This appliance has no traffic nodes: it relays every client itself.
            </p>`
      }
      <section>
        <h2>Add a traffic node</h2>
        ${kit.formAlert(problem, ['host', 'port', 'region', 'key'])}
        <form method="post" action="${PATH}/nodes" id="add-node-form" class="stacked">
          ${kit.csrfInput(ctx)}
          ${kit.field('Host or IP', 'host', v.host, problem.fields, { required: true })}
          ${kit.field('TLS port', 'port', v.port, problem.fields, { required: true })}
          ${kit.field('Region', 'region', v.region, problem.fields, { required: true })}
          ${kit.field('Inter-Appliance key (the same on both)', 'key', '', problem.fields, {
            required: true,
            type: 'password',
          })}
          <div class="buttons"><button type="submit">Add node</button></div>
        </form>
      </section>`,
    undefined,
    {
      refreshSeconds: nodes.some((n) => !n.accepting && n.status?.connectedClients) ? 3 : undefined,
    },
  );
}

/** /login > Management > Cluster: traffic nodes, accepting, Sync Now. */
export function registerClusterPages(p: kit.Pages<ClusterSite>): void {
  p.get(PATH, (ctx) => page(ctx, undefined, kit.NO_PROBLEM));

  p.post(`${PATH}/nodes`, async (ctx) => {
    const b = kit.formBody(ctx);
    const values: AddValues = { host: b.host ?? '', port: b.port ?? '', region: b.region ?? '' };
    try {
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        return page(ctx, values, {
          fields: { port: 'must be a TLS port between 1 and 65535' },
          message: 'port: must be a TLS port between 1 and 65535',
          status: 400,
        });
      const region = RegionName.safeParse(values.region);
      if (!region.success)
        return page(ctx, values, {
          fields: { region: region.error.issues[0]!.message },
          message: `region: ${region.error.issues[0]!.message}`,
          status: 400,
        });
      const node = await ctx.appliance.cluster.addNode(ctx.actor, {
        host: values.host.trim(),
        port,
        region: region.data,
        key: b.key ?? '',
        accepting: true,
      });
      return kit.redirect(ctx.reply, PATH, `Added traffic node ${node.name} in ${node.region}.`);
    } catch (e) {
      return page(ctx, values, kit.formErrors(e));
    }
  });

  const nodeAction = (suffix: string, run: (ctx: PageContext, name: string) => Promise<string>) =>
    p.post(`${PATH}/nodes/:name/${suffix}`, async (ctx) => {
      const name = (ctx.req.params as { name: string }).name;
      try {
        return kit.redirect(ctx.reply, PATH, await run(ctx, name));
      } catch (e) {
        return page(ctx, undefined, { ...kit.formErrors(e), fields: {} });
      }
    });
  nodeAction('stop-accepting', async (ctx, name) => {
    await ctx.appliance.cluster.setAccepting(ctx.actor, name, false);
    return `${name} accepts no new clients; its sessions go on until they end.`;
  });
  nodeAction('accept', async (ctx, name) => {
    await ctx.appliance.cluster.setAccepting(ctx.actor, name, true);
    return `${name} accepts new clients again.`;
  });
  nodeAction('remove', async (ctx, name) => {
    await ctx.appliance.cluster.removeNode(ctx.actor, name);
    return `Removed ${name} from the cluster.`;
  });

  p.post(`${PATH}/sync`, async (ctx) => {
    const { results } = await ctx.appliance.cluster.syncNow(ctx.actor);
    const failed = results.filter((r) => !r.ok);
    return kit.redirect(
      ctx.reply,
      PATH,
      failed.length
        ? `Synced ${results.length - failed.length} of ${results.length} nodes; ${failed.map((f) => `${f.node}: ${f.error}`).join('; ')}`
        : `Synced ${results.length} traffic nodes.`,
    );
  });
}
