import { SyslogConfigInput } from '../settings.js';
import { parseInput } from '../../shared/http/operations.js';
import { html } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import type { SyslogSite } from './site.js';

type PageContext = kit.PageContext<SyslogSite>;
type Pages = kit.Pages<SyslogSite>;

type Values = Record<string, string | undefined>;

function page(ctx: PageContext, values: Values, problem: kit.FormProblem) {
  ctx.reply.code(problem.status);
  const status = ctx.appliance.syslog?.status();
  return kit.layout(
    ctx,
    'Management > Syslog',
    html`<section id="syslog">
      <p class="note">
        Every event of this appliance's log (sign-ins, configuration changes, failover and role
        changes, installs, sessions) goes to the collector as an RFC 5424 message over TLS (RFC
        5425). While the collector is unreachable, messages wait on this appliance's disk, up to the
        spool size (the oldest are dropped first), and are sent in order once it answers.
      </p>
      ${
        status
          ? html`<dl class="facts" id="syslog-status">
              <dt>Connected</dt>
              <dd id="syslog-connected">${status.connected ? 'yes' : 'no'}</dd>
              <dt>Waiting on disk</dt>
              <dd id="syslog-queued">${status.queued}</dd>
              <dt>Sent / dropped since start</dt>
              <dd>${status.sent} / ${status.dropped}</dd>
              ${
                status.lastError
                  ? html`<dt>Last error</dt>
                      <dd>${status.lastError}</dd>`
                  : ''
              }
            </dl>`
          : ''
      }
      ${kit.formAlert(problem, ['host', 'port', 'fingerprint', 'caPem', 'spoolMaxMessages'])}
      <form method="post" action="/login/management/syslog" class="stacked" id="syslog-form">
        ${kit.csrfInput(ctx)}
        ${kit.checkbox('Forward the event log', 'enabled', values.enabled === 'on')}
        ${kit.field('Collector host', 'host', values.host, problem.fields, { required: true })}
        ${kit.field('TLS port', 'port', values.port ?? '6514', problem.fields)}
        ${kit.field('Pinned certificate SHA-256 fingerprint', 'fingerprint', values.fingerprint, problem.fields, { help: 'AB:CD:… — or leave empty and give a CA below' })}
        ${kit.textarea('CA certificate (PEM)', 'caPem', values.caPem ?? '', problem.fields, { help: 'The CA that signed the collector; its name must match the host', rows: 4 })}
        ${kit.field('Spool size (messages)', 'spoolMaxMessages', values.spoolMaxMessages ?? '100000', problem.fields)}
        <div class="buttons"><button type="submit">Save</button></div>
      </form>
    </section>`,
  );
}

function valuesOf(ctx: PageContext): Values {
  const c = ctx.appliance.syslogSettings.get();
  if (!c) return {};
  return {
    enabled: c.enabled ? 'on' : undefined,
    host: c.host,
    port: String(c.port),
    fingerprint: c.fingerprint,
    caPem: c.caPem,
    spoolMaxMessages: String(c.spoolMaxMessages),
  };
}

/** /login > Management > Syslog. */
export function registerSyslogPages(p: Pages): void {
  p.get('/login/management/syslog', (ctx) => page(ctx, valuesOf(ctx), kit.NO_PROBLEM));
  p.post('/login/management/syslog', (ctx) => {
    const form = kit.formBody(ctx);
    const blank = (v: string | undefined) => (v?.trim() ? v : undefined);
    try {
      const config = parseInput(
        SyslogConfigInput,
        {
          enabled: kit.ticked(form.enabled),
          host: form.host,
          port: blank(form.port),
          fingerprint: blank(form.fingerprint),
          caPem: blank(form.caPem),
          spoolMaxMessages: blank(form.spoolMaxMessages),
        },
        'body',
      );
      ctx.appliance.syslogSettings.set(ctx.actor, config);
      return kit.redirect(ctx.reply, '/login/management/syslog', 'Syslog forwarding saved.');
    } catch (e) {
      return page(ctx, form, kit.formErrors(e));
    }
  });
}
