import type { Appliance } from '../context.js';
import { NewAddressInput } from '../network.js';
import { parseInput } from '../../shared/http/operations.js';
import { html, tableOf } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import { type PageContext, type Pages } from './page-host.js';

const TITLE = 'Networking > IP Configuration';
const ADD_FIELDS = ['address', 'kind', 'label', 'enabled'];

interface AddValues {
  address: string;
  kind: string;
  label: string;
  enabled: boolean;
}

const EMPTY: AddValues = { address: '', kind: 'unique', label: '', enabled: true };

const addressPath = (address: string) =>
  `/appliance/networking/addresses/${encodeURIComponent(address)}`;

function page(ctx: PageContext, values: AddValues, problem: kit.FormProblem) {
  const addresses = ctx.appliance.network.list();
  ctx.reply.code(problem.status);
  return kit.layout(
    ctx,
    TITLE,
    html`<p class="note">
        Unique addresses belong to this appliance. Shared addresses follow the primary role: to
        switch traffic between two appliances, disable the shared address on one and enable it on
        the other.
      </p>
      ${kit.formAlert(problem, ADD_FIELDS)}
      <table id="addresses" class="list">
        ${tableOf(
          ['Address', 'Kind', 'Label', 'Enabled', ['Actions', 'actions']],
          addresses,
          'No addresses are configured.',
          (a) =>
            html`<tr data-address="${a.address}">
              <td><code>${a.address}</code></td>
              <td>
                <span class="tag ${a.kind === 'shared' ? 'shared' : ''}">${a.kind}</span>
              </td>
              <td>${a.label || html`<span class="muted">—</span>`}</td>
              <td>
                ${a.enabled ? html`<span class="tag ok">Enabled</span>` : html`<span class="tag off">Disabled</span>`}
              </td>
              <td class="actions">
                ${
                  a.kind === 'shared'
                    ? a.enabled
                      ? kit.actionButton(
                          ctx,
                          `${addressPath(a.address)}/disable`,
                          'Disable',
                          'secondary',
                        )
                      : kit.actionButton(
                          ctx,
                          `${addressPath(a.address)}/enable`,
                          'Enable',
                          'secondary',
                        )
                    : ''
                }${kit.actionButton(ctx, `${addressPath(a.address)}/remove`, 'Remove', 'danger')}
              </td>
            </tr>`,
        )}
      </table>
      <section>
        <h2>Add an address</h2>
        <form
          method="post"
          action="/appliance/networking/addresses"
          id="add-address"
          class="stacked"
        >
          ${kit.csrfInput(ctx)}
          ${kit.field('Address', 'address', values.address, problem.fields, { required: true, help: 'IPv4 or IPv6, e.g. 192.0.2.10' })}
          ${kit.select(
            'Kind',
            'kind',
            [
              { value: 'unique', label: 'Unique (this appliance)' },
              { value: 'shared', label: 'Shared (follows the primary role)' },
            ],
            values.kind,
            problem.fields,
          )}
          ${kit.field('Label', 'label', values.label, problem.fields)}
          ${kit.checkbox('Enabled', 'enabled', values.enabled, problem.fields)}
          <div class="buttons"><button type="submit">Add address</button></div>
        </form>
      </section>`,
  );
}

/** Networking > IP Configuration: unique and shared addresses. */
export function registerNetworkingPages(p: Pages, appliance: Appliance): void {
  p.get('/appliance/networking', (ctx) => page(ctx, EMPTY, kit.NO_PROBLEM));

  p.post('/appliance/networking/addresses', async (ctx) => {
    const body = kit.formBody(ctx);
    const values: AddValues = {
      address: (body.address ?? '').trim(),
      kind: body.kind ?? '',
      label: body.label ?? '',
      enabled: kit.ticked(body.enabled),
    };
    try {
      const input = parseInput(NewAddressInput, values, 'body');
      const added = await appliance.addresses.change(ctx.actor, () =>
        appliance.network.add(ctx.actor, input),
      );
      return kit.redirect(
        ctx.reply,
        '/appliance/networking',
        `Added ${added.kind} address ${added.address}.`,
      );
    } catch (e) {
      return page(ctx, values, kit.formErrors(e));
    }
  });

  const rowAction = (verb: string, act: (ctx: PageContext, address: string) => string) =>
    p.post(`/appliance/networking/addresses/:address/${verb}`, async (ctx) => {
      const { address } = ctx.req.params as { address: string };
      try {
        const done = await appliance.addresses.change(ctx.actor, () => act(ctx, address));
        return kit.redirect(ctx.reply, '/appliance/networking', done);
      } catch (e) {
        // A row's error is about that row, not about the fields of the add form below.
        return page(ctx, EMPTY, { ...kit.formErrors(e), fields: {} });
      }
    });
  rowAction('enable', (ctx, address) => {
    appliance.network.update(ctx.actor, address, { enabled: true });
    return `Enabled ${address}.`;
  });
  rowAction('disable', (ctx, address) => {
    appliance.network.update(ctx.actor, address, { enabled: false });
    return `Disabled ${address}.`;
  });
  rowAction('remove', (ctx, address) => {
    appliance.network.remove(ctx.actor, address);
    return `Removed ${address}.`;
  });
}
