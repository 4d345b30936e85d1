import type { FastifyInstance } from 'fastify';
import { GatehouseError, validationError } from '../../shared/errors.js';
import { peerLabel } from '../../failover/peer-client.js';
import {
  AutomaticFailoverSchema,
  EstablishInput,
  SyncIntervalInput,
  type AutomaticFailover,
} from '../../failover/relationship-schemas.js';
import type { RelationshipView } from '../../failover/types.js';
import type { Appliance } from '../context.js';
import { failoverStatus } from '../http/api-failover.js';
import { requireApiSession } from '../http/auth.js';
import { parseInput } from '../../shared/http/operations.js';
import { html, type SafeHtml } from '../../shared/web/html.js';
import {
  checkbox,
  csrfInput,
  field,
  formAlert,
  formBody,
  formErrors,
  layout,
  NO_PROBLEM,
  redirect,
  textarea,
  ticked,
  type FormProblem,
} from '../../shared/web/kit.js';
import { BACKUP_HIDDEN, type PageContext, type Pages } from './page-host.js';

type Status = Awaited<ReturnType<typeof failoverStatus>>;
type EstablishValues = Record<
  | 'backupHost'
  | 'backupPort'
  | 'reverseHost'
  | 'reversePort'
  | 'firstSyncAfterSeconds'
  | 'syncIntervalSeconds',
  string
>;
interface AutomaticValues {
  enabled: boolean;
  unreachableForSeconds: string;
  checkAddresses: string;
  maximumSyncAgeSeconds: string;
}

interface Forms {
  establish?: { values: EstablishValues; problem: FormProblem };
  automatic?: { values: AutomaticValues; problem: FormProblem };
  role?: FormProblem;
  interval?: { value: string; problem: FormProblem };
}

const ESTABLISH_FIELDS = ['backupHost', 'backupPort', 'reverseHost', 'reversePort'];
const SYNC_FIELDS = ['firstSyncAfterSeconds', 'syncIntervalSeconds'] as const;

/**
 * The reverse details default to this appliance's own unique address and port (S14), not the
 * address the browser used: that may be the shared address, which moves with the primary role.
 */
function establishDefaults(ctx: PageContext): EstablishValues {
  const { appliance, req } = ctx;
  return {
    backupHost: '',
    backupPort: '',
    reverseHost: appliance.traffic.uniqueAddress() ?? '',
    reversePort: String(appliance.sharedListeners.listenPort ?? req.socket.localPort ?? ''),
    firstSyncAfterSeconds: '60',
    syncIntervalSeconds: '300',
  };
}

function establishForm(ctx: PageContext, v: EstablishValues, problem: FormProblem): SafeHtml {
  const e = problem.fields;
  return html`<section id="establish">
    <h2>Establish Relationship</h2>
    <p class="note">
      Establish the relationship here, on the appliance intended to be the primary. Both appliances
      need the same Inter-Appliance key (Management > Security); the key itself never leaves either
      appliance.
    </p>
    <p class="note" id="establish-unique-advice">
      Use the unique address of each appliance, for the backup and for the reverse details: a shared
      address or the site hostname moves to whichever appliance is primary, so after a switch it
      would reach the other appliance (refused).
    </p>
    ${formAlert(problem, [...ESTABLISH_FIELDS, ...SYNC_FIELDS])}
    <form method="post" action="/login/failover/establish" id="establish-form" class="stacked">
      ${csrfInput(ctx)}
      <fieldset>
        <legend>New Backup Site Connection Details</legend>
        ${field('Backup hostname or IP', 'backupHost', v.backupHost, e, { required: true, help: 'How this appliance reaches the backup' })}
        ${field('Backup TLS port', 'backupPort', v.backupPort, e, { type: 'number', required: true })}
      </fieldset>
      <fieldset>
        <legend>Reverse Connection Details to this Primary Site</legend>
        ${field('Primary hostname or IP', 'reverseHost', v.reverseHost, e, { required: true, help: 'How the backup reaches this appliance' })}
        ${field('Primary TLS port', 'reversePort', v.reversePort, e, { type: 'number', required: true })}
      </fieldset>
      ${field('First sync after (seconds)', 'firstSyncAfterSeconds', v.firstSyncAfterSeconds, e, { type: 'number', help: 'About 60 s by default; Sync Now starts one at any time' })}
      ${field('Then sync every (seconds)', 'syncIntervalSeconds', v.syncIntervalSeconds, e, { type: 'number', help: 'Changeable later on this page' })}
      <div class="buttons"><button type="submit">Establish Relationship</button></div>
    </form>
  </section>`;
}

function relationshipFacts(s: Status, rel: RelationshipView): SafeHtml {
  const state = s.peerState;
  return html`<dl class="facts" id="relationship">
    <dt>Role</dt>
    <dd id="failover-role">${rel.role}</dd>
    <dt>Generation</dt>
    <dd id="failover-generation">${rel.generation}</dd>
    <dt>Peer</dt>
    <dd id="failover-peer">${rel.peer.name} at <code>${peerLabel(rel.peer.address)}</code></dd>
    <dt>Peer certificate (pinned)</dt>
    <dd><code id="failover-peer-fingerprint">${rel.peer.fingerprint}</code></dd>
    <dt>State</dt>
    <dd id="failover-state">
      ${
        state?.reachable
          ? html`<span class="tag ok">reachable</span> (peer is ${state.role}, generation
              ${state.generation})`
          : html`<span class="tag warn">unreachable</span> ${state?.error?.message ?? ''}`
      }
    </dd>
    <dt>Last sync</dt>
    <dd id="failover-last-sync">
      ${s.lastSync ? `${s.lastSync.finishedAt} from ${s.lastSync.from}, ${ageOf(s.lastSync.finishedAt)} ago` : html`<span class="muted">none yet</span>`}
      ${s.stale ? html`<span class="tag warn" id="failover-stale">stale: ${s.stale}</span>` : ''}
    </dd>
    <dt>Established</dt>
    <dd>${rel.establishedAt}</dd>
    <dt>Client connections</dt>
    <dd id="failover-accepts-clients">
      ${s.acceptsClients ? 'accepted' : 'not accepted (clients connect to the primary)'}
    </dd>
  </dl>`;
}

/** How long ago, in the largest whole unit: "42 s", "3 min", "2 h". */
function ageOf(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

const SYNC_RUNNING = new Set(['manifest', 'rows', 'blobs', 'apply']);

/** Whether the backup is in the middle of a sync (the page then reloads itself). */
const syncRunning = (s: Status) => SYNC_RUNNING.has(s.sync?.progress?.phase ?? 'idle');

/** The sync interval, changeable at any time (S15): both appliances of the pair keep it. */
function intervalForm(ctx: PageContext, value: string, problem: FormProblem): SafeHtml {
  return html`${formAlert(problem, ['syncIntervalSeconds'])}
    <form method="post" action="/login/failover/sync-interval" id="sync-interval-form">
      ${csrfInput(ctx)}
      ${field('Sync every (seconds)', 'syncIntervalSeconds', value, problem.fields, { type: 'number', required: true, help: 'How often the backup copies the primary after the first sync (5 to 86400)' })}
      <div class="buttons"><button type="submit" class="secondary">Save interval</button></div>
    </form>`;
}

function syncSection(
  ctx: PageContext,
  s: Status,
  interval: { value: string; problem: FormProblem },
): SafeHtml {
  const sync = s.sync;
  const p = sync?.progress;
  const last = sync?.lastResult ?? s.lastSync;
  const changed = last ? Object.values(last.rows).reduce((a, b) => a + b, 0) : 0;
  return html`<section id="sync">
    <h2>Synchronisation</h2>
    <p class="note">
      The backup copies users, /login settings, the file store, logs and recordings from the
      primary: first about a minute after establishing, then periodically. Sync Now starts one and
      waits until it has completed.
    </p>
    <dl class="facts">
      <dt>Progress${sync ? html` (on ${sync.appliance})` : ''}</dt>
      <dd id="sync-progress">
        ${
          p
            ? html`<span
                  class="tag ${p.phase === 'failed' ? 'warn' : SYNC_RUNNING.has(p.phase) ? 'shared' : 'ok'}"
                  id="sync-phase"
                  >${p.phase}</span
                >
                rows ${p.rows.done}/${p.rows.total}, blobs ${p.blobs.done}/${p.blobs.total}
                ${p.error ? html`<span class="error">${p.error.message}</span>` : ''}`
            : html`<span class="muted"
                >${sync?.error ? `unknown: ${sync.error.message}` : 'unknown'}</span
              >`
        }
      </dd>
      <dt>Last sync result</dt>
      <dd id="sync-last-result">
        ${
          last
            ? html`completed ${last.finishedAt} in ${last.ms} ms: ${changed} rows changed,
                ${last.blobs.fetched} blobs fetched; digest
                <code>${last.digest.slice(0, 16)}</code>`
            : html`<span class="muted">no sync has completed yet</span>`
        }
      </dd>
    </dl>
    <form method="post" action="/login/failover/sync" id="sync-now-form">
      ${csrfInput(ctx)}
      <div class="buttons"><button type="submit">Sync Now</button></div>
    </form>
    ${intervalForm(ctx, interval.value, interval.problem)}
  </section>`;
}

function roleForms(ctx: PageContext, rel: RelationshipView, problem: FormProblem): SafeHtml {
  const change =
    rel.role === 'primary'
      ? html`<form method="post" action="/login/failover/become-backup" id="become-backup-form">
          ${csrfInput(ctx)}
          ${checkbox('Become backup even if the peer site cannot be contacted', 'force', false)}
          <div class="buttons"><button type="submit">Become Backup</button></div>
        </form>`
      : html`<form method="post" action="/login/failover/become-primary" id="become-primary-form">
          ${csrfInput(ctx)}
          ${checkbox('Become primary even if the peer site cannot be contacted', 'force', false)}
          <div class="buttons"><button type="submit">Become Primary</button></div>
        </form>`;
  return html`<section id="roles">
    <h2>Roles</h2>
    ${formAlert(problem, [])} ${change}
    <form method="post" action="/login/failover/backup-operations" id="backup-operations-form">
      ${csrfInput(ctx)}
      ${checkbox('Enable Backup Operations', 'enabled', rel.backupOperationsEnabled)}
      <div class="buttons"><button type="submit" class="secondary">Save</button></div>
    </form>
    <form method="post" action="/login/failover/break" id="break-form">
      ${csrfInput(ctx)}
      <p class="note">
        Breaking the relationship leaves both appliances standalone, each with its own data.
      </p>
      <div class="buttons">
        <button type="submit" class="danger">Break Failover Relationship</button>
      </div>
    </form>
  </section>`;
}

const automaticValues = (a: AutomaticFailover): AutomaticValues => ({
  enabled: a.enabled,
  unreachableForSeconds: String(a.unreachableForSeconds),
  checkAddresses: a.checkAddresses.map(peerLabel).join('\n'),
  maximumSyncAgeSeconds: a.maximumSyncAgeSeconds === null ? '' : String(a.maximumSyncAgeSeconds),
});

function automaticForm(ctx: PageContext, v: AutomaticValues, problem: FormProblem): SafeHtml {
  const e = problem.fields;
  return html`<section id="automatic">
    <h2>Automatic failover</h2>
    <p class="note">
      Off by default. The backup becomes primary when the primary has been unreachable for the set
      time and at least one check address (e.g. the gateway) still answers; otherwise it may be the
      one cut off, and it does not take over.
    </p>
    ${formAlert(problem, ['enabled', 'unreachableForSeconds', 'checkAddresses', 'maximumSyncAgeSeconds'])}
    <form method="post" action="/login/failover/automatic" id="automatic-form" class="stacked">
      ${csrfInput(ctx)} ${checkbox('Enable automatic failover', 'enabled', v.enabled, e)}
      ${field('Primary unreachable for (seconds)', 'unreachableForSeconds', v.unreachableForSeconds, e, { type: 'number', required: true })}
      ${textarea('Check addresses', 'checkAddresses', v.checkAddresses, e, { help: 'One host:port per line, reached by TCP' })}
      ${field('Maximum sync age (seconds)', 'maximumSyncAgeSeconds', v.maximumSyncAgeSeconds, e, { type: 'number', help: 'A backup whose last sync is older is not promoted, automatically or by Become Primary without force; empty: no limit' })}
      <div class="buttons"><button type="submit">Save automatic failover</button></div>
    </form>
  </section>`;
}

async function page(ctx: PageContext, forms: Forms = {}) {
  const status =
    forms.establish?.problem ?? forms.automatic?.problem ?? forms.role ?? forms.interval?.problem;
  ctx.reply.code(status?.status ?? 200);
  const s = await failoverStatus(ctx.appliance);
  const rel = s.relationship;
  const automatic = forms.automatic ?? {
    values: automaticValues(s.automatic),
    problem: NO_PROBLEM,
  };
  const body = rel
    ? html`${relationshipFacts(s, rel)}
      ${syncSection(
        ctx,
        s,
        forms.interval ?? { value: String(rel.sync.intervalMs / 1000), problem: NO_PROBLEM },
      )}
      ${roleForms(ctx, rel, forms.role ?? NO_PROBLEM)}
      ${automaticForm(ctx, automatic.values, automatic.problem)}`
    : html`<p id="failover-role">
          This appliance is <strong>standalone</strong>: it is in no failover relationship.
        </p>
        ${establishForm(
          ctx,
          forms.establish?.values ?? establishDefaults(ctx),
          forms.establish?.problem ?? NO_PROBLEM,
        )}
        ${automaticForm(ctx, automatic.values, automatic.problem)}`;
  return layout(ctx, 'Management > Failover', body, undefined, {
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

/** A /login page the backup does not show (kit.ts says which and why), or one below it. */
const hiddenOnBackup = (path: string) =>
  [...BACKUP_HIDDEN].some((h) => path === h || path.startsWith(`${h}/`));
const READ_ONLY_API = /^\/api\/login\/(users|settings|files|management\/syslog|jump-clients)(\/|$)/;
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * On a backup the site's users, configuration and file store belong to the primary (sync
 * overwrites them, S15/S16): their pages give way to a notice on the Failover page, and the
 * API refuses changes to them (reads stay possible).
 */
function guardBackupSections(app: FastifyInstance, appliance: Appliance): void {
  app.addHook('onRequest', async (req, reply) => {
    if (appliance.role !== 'backup') return;
    const path = req.url.split('?')[0]!;
    const primary = appliance.failover.view()?.peer.name ?? 'the primary';
    if (hiddenOnBackup(path)) {
      const notice = `This appliance is the backup of "${primary}": that section is managed on the primary (site data is copied here by synchronisation; clients and the cluster go to the primary).`;
      return redirect(reply, '/login/failover', notice);
    }
    if (READ_ONLY_API.test(path) && !SAFE.has(req.method)) {
      try {
        requireApiSession(appliance, 'login', req);
      } catch {
        return; // the operation itself answers 401
      }
      throw new GatehouseError(
        'FAILOVER_BACKUP_READ_ONLY',
        409,
        `This appliance is the backup of "${primary}": users, site settings and the file store are changed on the primary and copied here by synchronisation. Make the change on "${primary}"; nothing was changed here.`,
      );
    }
  });
}

/** Management > Failover (S14, S7, S25) and the backup's read-only sections. */
export function registerFailoverPages(app: FastifyInstance, p: Pages, appliance: Appliance): void {
  guardBackupSections(app, appliance);
  p.get('/login/management/failover', (ctx) => ctx.reply.redirect('/login/failover', 303));
  p.get('/login/failover', (ctx) => page(ctx));

  p.post('/login/failover/establish', async (ctx) => {
    const b = formBody(ctx);
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
      const rel = await appliance.failover.establish(ctx.actor, input);
      return redirect(
        ctx.reply,
        '/login/failover',
        `Established: "${rel.peer.name}" is now the backup (certificate ${rel.peer.fingerprint} pinned).`,
      );
    } catch (e) {
      return page(ctx, { establish: { values, problem: formErrors(e) } });
    }
  });

  p.post('/login/failover/sync', async (ctx) => {
    try {
      const r = await appliance.failover.syncNow(ctx.actor);
      const rows = Object.values(r.rows).reduce((a, b) => a + b, 0);
      return redirect(
        ctx.reply,
        '/login/failover',
        `Sync completed in ${r.ms} ms: ${rows} rows changed, ${r.blobs.fetched} blobs fetched.`,
      );
    } catch (e) {
      return page(ctx, { role: formErrors(e) });
    }
  });

  p.post('/login/failover/sync-interval', async (ctx) => {
    const value = (formBody(ctx).syncIntervalSeconds ?? '').trim();
    try {
      const input = parseInput(SyncIntervalInput, { syncIntervalSeconds: value }, 'body');
      await appliance.failover.setSyncInterval(ctx.actor, input.syncIntervalSeconds);
      return redirect(
        ctx.reply,
        '/login/failover',
        `The backup now syncs every ${input.syncIntervalSeconds} s after the first sync.`,
      );
    } catch (e) {
      return page(ctx, { interval: { value, problem: formErrors(e) } });
    }
  });

  p.post('/login/failover/break', async (ctx) => {
    try {
      const r = await appliance.failover.break(ctx.actor);
      return redirect(
        ctx.reply,
        '/login/failover',
        r.peerInformed
          ? 'The failover relationship is broken: both appliances are standalone.'
          : `The failover relationship is broken here; the peer could not be told (${r.reason}). Break it there too when it is back.`,
      );
    } catch (e) {
      return page(ctx, { role: formErrors(e) });
    }
  });

  const roleChange = (to: 'backup' | 'primary') => async (ctx: PageContext) => {
    const force = ticked(formBody(ctx).force);
    try {
      const r =
        to === 'backup'
          ? await appliance.failover.becomeBackup(ctx.actor, force)
          : await appliance.failover.becomePrimary(ctx.actor, force);
      return redirect(
        ctx.reply,
        '/login/failover',
        r.message ??
          `This appliance is now the ${r.role} (generation ${r.generation})${r.peerInformed === false ? `; the peer could not be contacted (${r.reason})` : ''}.`,
      );
    } catch (e) {
      return page(ctx, { role: formErrors(e) });
    }
  };
  p.post('/login/failover/become-backup', roleChange('backup'));
  p.post('/login/failover/become-primary', roleChange('primary'));

  p.post('/login/failover/backup-operations', (ctx) => {
    const enabled = ticked(formBody(ctx).enabled);
    try {
      appliance.failover.setBackupOperations(ctx.actor, enabled);
      return redirect(
        ctx.reply,
        '/login/failover',
        `Backup operations ${enabled ? 'enabled' : 'disabled'}.`,
      );
    } catch (e) {
      return page(ctx, { role: formErrors(e) });
    }
  });

  p.post('/login/failover/automatic', async (ctx) => {
    const b = formBody(ctx);
    const values: AutomaticValues = {
      enabled: ticked(b.enabled),
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
        },
        'body',
      );
      appliance.failover.setAutomatic(ctx.actor, input);
      return redirect(
        ctx.reply,
        '/login/failover',
        `Automatic failover ${input.enabled ? 'enabled' : 'disabled'}.`,
      );
    } catch (e) {
      const problem = formErrors(e);
      // Errors of one check address (checkAddresses.0.port) are shown beside the list.
      for (const k of Object.keys(problem.fields))
        if (k.startsWith('checkAddresses.')) problem.fields.checkAddresses ??= problem.fields[k]!;
      return page(ctx, { automatic: { values, problem } });
    }
  });
}
