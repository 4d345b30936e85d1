import { parseInput } from '../../shared/http/operations.js';
import { SiteSettingsPatch, SiteSettingsSchema, type SiteSettings } from '../settings.js';
import { html } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import type { PageContext, Pages, SiteDataSite } from './site.js';

type Values = Record<keyof SiteSettings, string>;
const KEYS = Object.keys(SiteSettingsSchema.shape) as (keyof SiteSettings)[];

function page(ctx: PageContext, v: Values, problem: kit.FormProblem) {
  ctx.reply.code(problem.status);
  const e = problem.fields;
  const num = (label: string, name: keyof SiteSettings, help: string, min: number, max: number) =>
    kit.field(label, name, v[name], e, {
      type: 'number',
      required: true,
      help: `${help} (${min}–${max})`,
    });
  return kit.layout(
    ctx,
    'Configuration',
    html`${kit.formAlert(problem, KEYS)}
      <form method="post" action="/login/configuration" id="settings" class="stacked">
        ${kit.csrfInput(ctx)}
        <fieldset>
          <legend>Site</legend>
          ${kit.field('Site name', 'siteName', v.siteName, e, { required: true, help: 'Shown on the sign-in page and to clients' })}
          ${kit.field('Site hostname', 'siteHostname', v.siteHostname, e, { help: 'The name every client uses, e.g. support.example.com' })}
          ${kit.textarea('Sign-in banner', 'loginBanner', v.loginBanner, e, { help: 'Shown above the /login sign-in form; up to 2000 characters' })}
        </fieldset>
        <fieldset>
          <legend>Accounts and sessions</legend>
          ${num('Minimum password length', 'passwordMinLength', 'Characters', 8, 128)}
          ${num('Failed sign-ins before backoff', 'loginMaxFailures', 'Attempts', 3, 50)}
          ${num('Longest backoff', 'lockoutMinutes', 'Minutes', 1, 1440)}
          ${num('Idle session timeout', 'sessionIdleMinutes', 'Minutes', 5, 1440)}
        </fieldset>
        <fieldset>
          <legend>File Store</legend>
          ${num('File store limit (MiB)', 'fileStoreMaxMiB', 'Largest file the File Store accepts', 1, 16384)}
        </fieldset>
        <fieldset>
          <legend>Jump Client upgrades</legend>
          ${num('Wave size', 'jumpClientUpgradeWaveSize', 'Jump Clients upgrading at once after the site is upgraded; 0 turns automatic upgrades off', 0, 1000)}
          ${kit.field('Canary group', 'jumpClientUpgradeCanaryGroup', v.jumpClientUpgradeCanaryGroup, e, { help: 'The Jump Client group that upgrades first, alone' })}
          ${num('Canary size', 'jumpClientUpgradeCanarySize', 'Without a canary group: how many Jump Clients upgrade first', 0, 100)}
          ${num('Return deadline', 'jumpClientUpgradeReturnSeconds', "Seconds a wave's Jump Clients have to come back on the new version before the upgrade halts", 5, 3600)}
        </fieldset>
        <div class="buttons"><button type="submit">Save changes</button></div>
      </form>`,
  );
}

const asValues = (s: SiteSettings): Values =>
  Object.fromEntries(KEYS.map((k) => [k, String(s[k])])) as Values;

/** Configuration: every site setting in one form. */
export function registerConfigurationPages(p: Pages, appliance: SiteDataSite): void {
  p.get('/login/configuration', (ctx) =>
    page(ctx, asValues(appliance.settings.get()), kit.NO_PROBLEM),
  );

  p.post('/login/configuration', (ctx) => {
    const body = kit.formBody(ctx);
    const values = Object.fromEntries(KEYS.map((k) => [k, body[k] ?? ''])) as Values;
    // Browsers send a textarea's line breaks as CRLF; store them as the API would get them.
    values.loginBanner = values.loginBanner.replace(/\r\n/g, '\n');
    try {
      const before = appliance.settings.get();
      const after = appliance.settings.update(
        ctx.actor,
        parseInput(SiteSettingsPatch, values, 'body'),
      );
      const changed = KEYS.filter((k) => before[k] !== after[k]).length;
      return kit.redirect(
        ctx.reply,
        '/login/configuration',
        changed === 0 ? 'Nothing changed.' : `Saved ${changed} setting${changed === 1 ? '' : 's'}.`,
      );
    } catch (e) {
      return page(ctx, values, kit.formErrors(e));
    }
  });
}
