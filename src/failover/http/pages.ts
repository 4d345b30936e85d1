import type { FastifyInstance } from 'fastify';
import { validationError } from '../../shared/errors.js';
import { parseInput } from '../../shared/http/operations.js';
import { html } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import {
  AutomaticFailoverSchema,
  EstablishInput,
  SyncIntervalInput,
} from '../relationship-schemas.js';
import { failoverStatus } from './api.js';
import {
  automaticForm,
  automaticValues,
  establishDefaults,
  establishForm,
  ESTABLISH_FIELDS,
  relationshipFacts,
  roleForms,
  SYNC_FIELDS,
  syncRunning,
  syncSection,
  type AutomaticValues,
  type EstablishValues,
  type Forms,
} from './pages-view.js';
import type { FailoverSite } from './site.js';
import { historySection } from './pages-history.js';

type Ctx = kit.PageContext<FailoverSite>;

async function page(ctx: Ctx, forms: Forms = {}) {
  const status =
    forms.establish?.problem ?? forms.automatic?.problem ?? forms.role ?? forms.interval?.problem;
  ctx.reply.code(status?.status ?? 200);
  const s = await failoverStatus(ctx.appliance);
  const rel = s.relationship;
  const automatic = forms.automatic ?? {
    values: automaticValues(s.automatic),
    problem: kit.NO_PROBLEM,
  };
  const body = rel
    ? html`${relationshipFacts(s, rel)}
      ${syncSection(
        ctx,
        s,
        forms.interval ?? { value: String(rel.sync.intervalMs / 1000), problem: kit.NO_PROBLEM },
      )}
      ${roleForms(ctx, rel, forms.role ?? kit.NO_PROBLEM)}
      ${automaticForm(ctx, automatic.values, automatic.problem)}
      ${historySection(ctx.appliance.failover.store.history.list())}`
    : html`<p id="failover-role">
          This appliance is <strong>standalone</strong>: it is in no failover relationship.
        </p>
        ${establishForm(
          ctx,
          forms.establish?.values ?? establishDefaults(ctx),
          forms.establish?.problem ?? kit.NO_PROBLEM,
        )}
        ${automaticForm(ctx, automatic.values, automatic.problem)}
        ${historySection(ctx.appliance.failover.store.history.list())}`;
  return kit.layout(ctx, 'Management > Failover', body, undefined, {
    refreshSeconds: syncRunning(s) ? 2 : undefined,
  });
}

/** "host:port" lines into addresses; a bad line is a field error naming it. */
function parseCheckAddresses(text: string): { host: string; port: string }[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(line);
      if (!m)
        throw validationError([
          { field: 'checkAddresses', message: `"${line}" is not host:port (e.g. 192.0.2.1:53)` },
        ]);
      return { host: m[1]!, port: m[2]! };
    });
}

/** Management > Failover (S14, S7, S25) and the backup's read-only sections. */
export function registerFailoverPages(
  app: FastifyInstance,
  host: kit.PageHost<FailoverSite>,
): void {
  const p = kit.pages(app, host, 'login');
  p.link('/login/failover', 'Management > Failover', 70);
  const site = host.context;
  p.get('/login/management/failover', (ctx) => ctx.reply.redirect('/login/failover', 303));
  p.get('/login/failover', (ctx) => page(ctx));

  p.post('/login/failover/establish', async (ctx) => {
    const b = kit.formBody(ctx);
    const values = Object.fromEntries(
      [...ESTABLISH_FIELDS, ...SYNC_FIELDS].map((k) => [k, (b[k] ?? '').trim()]),
    ) as EstablishValues;
    try {
      const input = parseInput(
        EstablishInput,
        {
          ...values,
          firstSyncAfterSeconds: values.firstSyncAfterSeconds || undefined,
          syncIntervalSeconds: values.syncIntervalSeconds || undefined,
        },
        'body',
      );
      const rel = await site.failover.establish(ctx.actor, input);
      return kit.redirect(
        ctx.reply,
        '/login/failover',
        `Established: "${rel.peer.name}" is now the backup (certificate ${rel.peer.fingerprint} pinned).`,
      );
    } catch (e) {
      return page(ctx, { establish: { values, problem: kit.formErrors(e) } });
    }
  });

  p.post('/login/failover/sync', async (ctx) => {
    try {
      const r = await site.failover.syncNow(ctx.actor);
      const rows = Object.values(r.rows).reduce((a, b) => a + b, 0);
      return kit.redirect(
        ctx.reply,
        '/login/failover',
        `Sync completed in ${r.ms} ms: ${rows} rows changed, ${r.blobs.fetched} blobs fetched.`,
      );
    } catch (e) {
      return page(ctx, { role: kit.formErrors(e) });
    }
  });

  p.post('/login/failover/sync-interval', async (ctx) => {
    const value = (kit.formBody(ctx).syncIntervalSeconds ?? '').trim();
    try {
      const input = parseInput(SyncIntervalInput, { syncIntervalSeconds: value }, 'body');
      await site.failover.setSyncInterval(ctx.actor, input.syncIntervalSeconds);
      return kit.redirect(
        ctx.reply,
        '/login/failover',
        `The backup now syncs every ${input.syncIntervalSeconds} s after the first sync.`,
      );
    } catch (e) {
      return page(ctx, { interval: { value, problem: kit.formErrors(e) } });
    }
  });

  p.post('/login/failover/break', async (ctx) => {
    try {
      const r = await site.failover.break(ctx.actor);
      return kit.redirect(
        ctx.reply,
        '/login/failover',
        r.peerInformed
          ? 'The failover relationship is broken: both appliances are standalone.'
          : `The failover relationship is broken here; the peer could not be told (${r.reason}). Break it there too when it is back.`,
      );
    } catch (e) {
      return page(ctx, { role: kit.formErrors(e) });
    }
  });

  const roleChange = (to: 'backup' | 'primary') => async (ctx: Ctx) => {
    const force = kit.ticked(kit.formBody(ctx).force);
    try {
      const r =
        to === 'backup'
          ? await site.failover.becomeBackup(ctx.actor, force)
          : await site.failover.becomePrimary(ctx.actor, force);
      return kit.redirect(
        ctx.reply,
        '/login/failover',
        r.message ??
          `This appliance is now the ${r.role} (generation ${r.generation})${r.peerInformed === false ? `; the peer could not be contacted (${r.reason})` : ''}.`,
      );
    } catch (e) {
      return page(ctx, { role: kit.formErrors(e) });
    }
  };
  p.post('/login/failover/become-backup', roleChange('backup'));
  p.post('/login/failover/become-primary', roleChange('primary'));

  p.post('/login/failover/backup-operations', (ctx) => {
    const enabled = kit.ticked(kit.formBody(ctx).enabled);
    try {
      site.failover.setBackupOperations(ctx.actor, enabled);
      return kit.redirect(
        ctx.reply,
        '/login/failover',
        `Backup operations ${enabled ? 'enabled' : 'disabled'}.`,
      );
    } catch (e) {
      return page(ctx, { role: kit.formErrors(e) });
    }
  });

  p.post('/login/failover/automatic', async (ctx) => {
    const b = kit.formBody(ctx);
    const values: AutomaticValues = {
      enabled: kit.ticked(b.enabled),
      unreachableForSeconds: (b.unreachableForSeconds ?? '').trim(),
      checkAddresses: (b.checkAddresses ?? '').replace(/\r\n/g, '\n'),
      maximumSyncAgeSeconds: (b.maximumSyncAgeSeconds ?? '').trim(),
    };
    try {
      const input = parseInput(
        AutomaticFailoverSchema,
        {
          enabled: values.enabled,
          unreachableForSeconds: values.unreachableForSeconds,
          checkAddresses: parseCheckAddresses(values.checkAddresses),
          maximumSyncAgeSeconds: values.maximumSyncAgeSeconds || null,
          // The witness is set through the API (docs/failover.md); the form keeps it.
          witness: site.failover.automatic().witness,
        },
        'body',
      );
      site.failover.setAutomatic(ctx.actor, input);
      return kit.redirect(
        ctx.reply,
        '/login/failover',
        `Automatic failover ${input.enabled ? 'enabled' : 'disabled'}.`,
      );
    } catch (e) {
      const problem = kit.formErrors(e);
      // Errors of one check address (checkAddresses.0.port) are shown beside the list.
      for (const k of Object.keys(problem.fields))
        if (k.startsWith('checkAddresses.')) problem.fields.checkAddresses ??= problem.fields[k]!;
      return page(ctx, { automatic: { values, problem } });
    }
  });
}
