import { z } from 'zod';
import { parseInput } from '../../shared/http/operations.js';
import { html } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import { InterApplianceKeyValue } from '../security.js';
import type { PageContext, Pages, SiteDataSite } from './site.js';

const SetKey = z.object({ key: InterApplianceKeyValue }).strict();

function securityPage(ctx: PageContext, keyValue: string, problem: kit.FormProblem) {
  ctx.reply.code(problem.status);
  const key = ctx.appliance.interApplianceKey;
  return kit.layout(
    ctx,
    'Management > Security',
    html`<section id="inter-appliance">
        <h2>Inter-Appliance key</h2>
        <p class="note">
          Two appliances talk to each other (failover, cluster) only when their Inter-Appliance keys
          match.
        </p>
        <dl class="facts">
          <dt>Key</dt>
          <dd><code id="inter-appliance-key" class="secret">${key.get()}</code></dd>
          <dt>Fingerprint</dt>
          <dd><code id="inter-appliance-fingerprint">${key.fingerprint()}</code></dd>
        </dl>
        <div class="toolbar">
          ${kit.actionButton(ctx, '/login/management/security/regenerate', 'Regenerate', 'secondary')}
          <span class="muted"
            >A new key breaks the link to every appliance that has the old one until they get the
            new key too.</span
          >
        </div>
      </section>
      <section id="set-key">
        <h2>Set key</h2>
        <p class="note">
          To join this appliance to another, paste the key shown on that appliance's Management >
          Security page.
        </p>
        ${kit.formAlert(problem, ['key'])}
        <form
          method="post"
          action="/login/management/security/key"
          id="set-key-form"
          class="stacked"
        >
          ${kit.csrfInput(ctx)}
          ${kit.field('Inter-Appliance key', 'key', keyValue, problem.fields, { required: true })}
          <div class="buttons"><button type="submit">Set key</button></div>
        </form>
      </section>`,
  );
}

/** Management > Security: the Inter-Appliance key. */
export function registerSecurityPages(p: Pages, appliance: SiteDataSite): void {
  p.get('/login/management', (ctx) => ctx.reply.redirect('/login/management/security', 303));
  p.get('/login/management/security', (ctx) => securityPage(ctx, '', kit.NO_PROBLEM));

  p.post('/login/management/security/regenerate', (ctx) => {
    appliance.interApplianceKey.regenerate(ctx.actor);
    return kit.redirect(
      ctx.reply,
      '/login/management/security',
      `Generated a new Inter-Appliance key (fingerprint ${appliance.interApplianceKey.fingerprint()}).`,
    );
  });

  p.post('/login/management/security/key', (ctx) => {
    const keyValue = (kit.formBody(ctx).key ?? '').trim();
    try {
      appliance.interApplianceKey.set(ctx.actor, parseInput(SetKey, { key: keyValue }, 'body').key);
      return kit.redirect(
        ctx.reply,
        '/login/management/security',
        `Set the Inter-Appliance key (fingerprint ${appliance.interApplianceKey.fingerprint()}).`,
      );
    } catch (e) {
      return securityPage(ctx, keyValue, kit.formErrors(e));
    }
  });
}
