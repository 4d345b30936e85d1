import { isGatehouseError } from '../../shared/errors.js';
import { PROVIDERS } from '../../traffic/switch.js';
import type { Appliance } from '../context.js';
import { html } from './html.js';
import {
  actionButton,
  csrfInput,
  formAlert,
  formBody,
  formErrors,
  layout,
  NO_PROBLEM,
  redirect,
  select,
  textarea,
  type FormProblem,
  type PageContext,
  type Pages,
} from './kit.js';

const TITLE = 'Networking > Traffic Switch';
const PATH = '/appliance/networking/traffic';

interface Values {
  provider: string;
  settings: string;
}

/** The stored settings without the provider, as the form's JSON. */
const settingsText = (config: Record<string, unknown> | null) => {
  if (!config) return '{\n  "file": "/etc/hosts",\n  "hostname": "support.example.com"\n}';
  return JSON.stringify(
    Object.fromEntries(Object.entries(config).filter(([k]) => k !== 'provider')),
    null,
    2,
  );
};

async function page(ctx: PageContext, values: Values | undefined, problem: FormProblem) {
  const shown = await ctx.appliance.traffic.shown();
  const v = values ?? {
    provider: shown.config?.provider ?? 'hosts-file',
    settings: settingsText(shown.config as Record<string, unknown> | null),
  };
  // Every setting's error is listed beside the settings, named by its field.
  const settingsError = Object.entries(problem.fields)
    .filter(([f]) => f !== 'provider')
    .map(([f, m]) => `${f}: ${m}`)
    .join('; ');
  ctx.reply.code(problem.status);
  return layout(
    ctx,
    TITLE,
    html`<p class="note">
        The traffic switch makes the site hostname reach the primary (S19): a shared IP that moves
        between the appliances, a DNS swing (RFC 2136 dynamic update, or a hosts file for one
        machine) or a NAT swing (a command for a real firewall, or the Gatehouse NAT forwarder). The
        same settings work with <code>gatehouse traffic</code>.
      </p>
      <dl class="facts" id="traffic-current">
        <dt>Method</dt>
        <dd id="traffic-method">
          ${shown.description ?? html`<span class="muted">none configured</span>`}
        </dd>
        <dt>Traffic goes to</dt>
        <dd id="traffic-target">
          ${shown.current?.address ?? html`<span class="muted">${shown.currentError ?? 'unknown'}</span>`}
        </dd>
      </dl>
      ${shown.config ? actionButton(ctx, `${PATH}/point-here`, 'Point traffic here') : ''}
      <section>
        <h2>Method and settings</h2>
        ${formAlert(problem, ['provider', 'settings'])}
        <form method="post" action="${PATH}" id="traffic-form" class="stacked">
          ${csrfInput(ctx)}
          ${select(
            'Method',
            'provider',
            PROVIDERS.map((p) => ({ value: p, label: p })),
            v.provider,
            problem.fields,
          )}
          ${textarea(
            'Settings (JSON)',
            'settings',
            v.settings,
            { ...(settingsError ? { settings: settingsError } : {}) },
            {
              rows: 8,
              help: 'The method settings as `gatehouse traffic` takes them, e.g. {"file": "/etc/hosts", "hostname": "support.example.com"}',
            },
          )}
          <div class="buttons"><button type="submit">Save traffic switch</button></div>
        </form>
      </section>`,
  );
}

/** Networking > Traffic Switch: method, settings and Point Here (S19). */
export function registerTrafficPages(p: Pages, appliance: Appliance): void {
  p.get(PATH, (ctx) => page(ctx, undefined, NO_PROBLEM));

  p.post(PATH, async (ctx) => {
    const b = formBody(ctx);
    const values: Values = { provider: b.provider ?? '', settings: b.settings ?? '' };
    let settings: unknown;
    try {
      settings = JSON.parse(values.settings || '{}');
    } catch (e) {
      return page(ctx, values, {
        fields: { settings: `is not JSON: ${(e as Error).message}` },
        message: 'The settings are not JSON.',
        status: 400,
      });
    }
    try {
      const config = await appliance.traffic.set(ctx.actor, {
        ...(settings as Record<string, unknown>),
        provider: values.provider,
      });
      return redirect(ctx.reply, PATH, `Traffic switch set to ${config.provider}.`);
    } catch (e) {
      return page(ctx, values, formErrors(e));
    }
  });

  p.post(`${PATH}/point-here`, async (ctx) => {
    try {
      const r = await appliance.traffic.pointHere(ctx.actor);
      return redirect(
        ctx.reply,
        PATH,
        `Traffic now goes to ${r.target.address} (${r.description}).`,
      );
    } catch (e) {
      if (!isGatehouseError(e)) throw e;
      return page(ctx, undefined, { ...formErrors(e), fields: {} });
    }
  });
}
