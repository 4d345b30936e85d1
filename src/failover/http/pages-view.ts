/** The sections and forms of Management > Failover. */
import { peerLabel } from '../peer-client.js';
import type { AutomaticFailover } from '../relationship-schemas.js';
import type { RelationshipView } from '../types.js';
import { html, type SafeHtml } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import type { failoverStatus } from './api.js';
import type { FailoverSite } from './site.js';

export type Status = Awaited<ReturnType<typeof failoverStatus>>;
export type EstablishValues = Record<
  | 'backupHost'
  | 'backupPort'
  | 'reverseHost'
  | 'reversePort'
  | 'firstSyncAfterSeconds'
  | 'syncIntervalSeconds',
  string
>;
export interface AutomaticValues {
  enabled: boolean;
  unreachableForSeconds: string;
  checkAddresses: string;
  maximumSyncAgeSeconds: string;
}

export interface Forms {
  establish?: { values: EstablishValues; problem: kit.FormProblem };
  automatic?: { values: AutomaticValues; problem: kit.FormProblem };
  role?: kit.FormProblem;
  interval?: { value: string; problem: kit.FormProblem };
}

export const ESTABLISH_FIELDS = ['backupHost', 'backupPort', 'reverseHost', 'reversePort'];
export const SYNC_FIELDS = ['firstSyncAfterSeconds', 'syncIntervalSeconds'] as const;

/**
 * The reverse details default to this appliance's own unique address and port (S14), not the
 * address the browser used: that may be the shared address, which moves with the primary role.
 */
export function establishDefaults(ctx: kit.PageContext<FailoverSite>): EstablishValues {
  const { appliance: site, req } = ctx;
  return {
    backupHost: '',
    backupPort: '',
    reverseHost: site.uniqueAddress() ?? '',
    reversePort: String(site.listenPort() ?? req.socket.localPort ?? ''),
    firstSyncAfterSeconds: '60',
    syncIntervalSeconds: '300',
  };
}

export function establishForm(
  ctx: kit.PageContext,
  v: EstablishValues,
  problem: kit.FormProblem,
): SafeHtml {
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
    ${kit.formAlert(problem, [...ESTABLISH_FIELDS, ...SYNC_FIELDS])}
    <form method="post" action="/login/failover/establish" id="establish-form" class="stacked">
      ${kit.csrfInput(ctx)}
      <fieldset>
        <legend>New Backup Site Connection Details</legend>
        ${kit.field('Backup hostname or IP', 'backupHost', v.backupHost, e, { required: true, help: 'How this appliance reaches the backup' })}
        ${kit.field('Backup TLS port', 'backupPort', v.backupPort, e, { type: 'number', required: true })}
      </fieldset>
      <fieldset>
        <legend>Reverse Connection Details to this Primary Site</legend>
        ${kit.field('Primary hostname or IP', 'reverseHost', v.reverseHost, e, { required: true, help: 'How the backup reaches this appliance' })}
        ${kit.field('Primary TLS port', 'reversePort', v.reversePort, e, { type: 'number', required: true })}
      </fieldset>
      ${kit.field('First sync after (seconds)', 'firstSyncAfterSeconds', v.firstSyncAfterSeconds, e, { type: 'number', help: 'About 60 s by default; Sync Now starts one at any time' })}
      ${kit.field('Then sync every (seconds)', 'syncIntervalSeconds', v.syncIntervalSeconds, e, { type: 'number', help: 'Changeable later on this page' })}
      <div class="buttons"><button type="submit">Establish Relationship</button></div>
    </form>
  </section>`;
}

export function relationshipFacts(s: Status, rel: RelationshipView): SafeHtml {
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
    <dt>Scheduled switchover</dt>
    <dd id="failover-scheduled-switchover">${scheduledFacts(s)}</dd>
    <dt>Witness</dt>
    <dd id="failover-witness">${witnessFacts(s.witness)}</dd>
    <dt>Established</dt>
    <dd>${rel.establishedAt}</dd>
    <dt>Client connections</dt>
    <dd id="failover-accepts-clients">
      ${s.acceptsClients ? 'accepted' : 'not accepted (clients connect to the primary)'}
    </dd>
  </dl>`;
}

/** The planned Become Primary this backup performs itself (PUT/DELETE the API to change it). */
function scheduledFacts(s: Status): SafeHtml {
  const at = s.scheduledSwitchover;
  if (!at) return html`<span class="muted">none</span>`;
  return html`<span class="tag warn">Become Primary at ${at.at}</span> (scheduled by
    ${at.scheduledBy} at ${at.scheduledAt}; cancel with DELETE
    <code>/api/login/failover/scheduled-switchover</code>)`;
}

/** The witness: whether it answers, who holds the lease (and the mark it keeps), last contact. */
function witnessFacts(w: Status['witness']): SafeHtml {
  if (!w) return html`<span class="muted">none (automatic failover without a witness)</span>`;
  const contact = w.lastContactAt
    ? `last answered ${w.lastContactAt}, ${ageOf(w.lastContactAt)} ago`
    : 'never answered this appliance';
  if (!w.reachable)
    return html`<code>${w.address}</code> <span class="tag warn">unreachable</span> ${w.error ?? ''}
      (${contact})`;
  const lease = w.holder
    ? `lease held by ${w.holder} at generation ${w.generation ?? 0}, ${w.remainingMs ?? 0} ms left`
    : 'no lease granted yet';
  const alone = w.alone
    ? `; ${w.holder} acknowledged changes alone up to its change ${w.alone}: no backup takes over without them`
    : '';
  return html`<code>${w.address}</code> <span class="tag ok">reachable</span>
    <span id="failover-witness-lease">${lease}${alone}</span> (${contact})`;
}

/** How long ago, in the largest whole unit: "42 s", "3 min", "2 h". */
function ageOf(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

const SYNC_RUNNING = new Set(['manifest', 'rows', 'blobs', 'apply']);

/** Whether the backup is in the middle of a sync (the page then reloads itself). */
export const syncRunning = (s: Status) => SYNC_RUNNING.has(s.sync?.progress?.phase ?? 'idle');

/** The sync interval, changeable at any time (S15): both appliances of the pair keep it. */
function intervalForm(ctx: kit.PageContext, value: string, problem: kit.FormProblem): SafeHtml {
  return html`${kit.formAlert(problem, ['syncIntervalSeconds'])}
    <form method="post" action="/login/failover/sync-interval" id="sync-interval-form">
      ${kit.csrfInput(ctx)}
      ${kit.field('Sync every (seconds)', 'syncIntervalSeconds', value, problem.fields, { type: 'number', required: true, help: 'How often the backup copies the primary after the first sync (5 to 86400)' })}
      <div class="buttons"><button type="submit" class="secondary">Save interval</button></div>
    </form>`;
}

export function syncSection(
  ctx: kit.PageContext,
  s: Status,
  interval: { value: string; problem: kit.FormProblem },
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
      ${kit.csrfInput(ctx)}
      <div class="buttons"><button type="submit">Sync Now</button></div>
    </form>
    ${intervalForm(ctx, interval.value, interval.problem)}
  </section>`;
}

export function roleForms(
  ctx: kit.PageContext,
  rel: RelationshipView,
  problem: kit.FormProblem,
): SafeHtml {
  const change =
    rel.role === 'primary'
      ? html`<form method="post" action="/login/failover/become-backup" id="become-backup-form">
          ${kit.csrfInput(ctx)}
          ${kit.checkbox('Become backup even if the peer site cannot be contacted', 'force', false)}
          <div class="buttons"><button type="submit">Become Backup</button></div>
        </form>`
      : html`<form method="post" action="/login/failover/become-primary" id="become-primary-form">
          ${kit.csrfInput(ctx)}
          ${kit.checkbox('Become primary even if the peer site cannot be contacted', 'force', false)}
          <div class="buttons"><button type="submit">Become Primary</button></div>
        </form>`;
  return html`<section id="roles">
    <h2>Roles</h2>
    ${kit.formAlert(problem, [])} ${change}
    <form method="post" action="/login/failover/backup-operations" id="backup-operations-form">
      ${kit.csrfInput(ctx)}
      ${kit.checkbox('Enable Backup Operations', 'enabled', rel.backupOperationsEnabled)}
      <div class="buttons"><button type="submit" class="secondary">Save</button></div>
    </form>
    <form method="post" action="/login/failover/break" id="break-form">
      ${kit.csrfInput(ctx)}
      <p class="note">
        Breaking the relationship leaves both appliances standalone, each with its own data.
      </p>
      <div class="buttons">
        <button type="submit" class="danger">Break Failover Relationship</button>
      </div>
    </form>
  </section>`;
}

export const automaticValues = (a: AutomaticFailover): AutomaticValues => ({
  enabled: a.enabled,
  unreachableForSeconds: String(a.unreachableForSeconds),
  checkAddresses: a.checkAddresses.map(peerLabel).join('\n'),
  maximumSyncAgeSeconds: a.maximumSyncAgeSeconds === null ? '' : String(a.maximumSyncAgeSeconds),
});

export function automaticForm(
  ctx: kit.PageContext,
  v: AutomaticValues,
  problem: kit.FormProblem,
): SafeHtml {
  const e = problem.fields;
  return html`<section id="automatic">
    <h2>Automatic failover</h2>
    <p class="note">
      Off by default. The backup becomes primary when the primary has been unreachable for the set
      time and at least one check address (e.g. the gateway) still answers; otherwise it may be the
      one cut off, and it does not take over.
    </p>
    ${kit.formAlert(problem, ['enabled', 'unreachableForSeconds', 'checkAddresses', 'maximumSyncAgeSeconds'])}
    <form method="post" action="/login/failover/automatic" id="automatic-form" class="stacked">
      ${kit.csrfInput(ctx)} ${kit.checkbox('Enable automatic failover', 'enabled', v.enabled, e)}
      ${kit.field('Primary unreachable for (seconds)', 'unreachableForSeconds', v.unreachableForSeconds, e, { type: 'number', required: true })}
      ${kit.textarea('Check addresses', 'checkAddresses', v.checkAddresses, e, { help: 'One host:port per line, reached by TCP' })}
      ${kit.field('Maximum sync age (seconds)', 'maximumSyncAgeSeconds', v.maximumSyncAgeSeconds, e, { type: 'number', help: 'A backup whose last sync is older is not promoted, automatically or by Become Primary without force; empty: no limit' })}
      <div class="buttons"><button type="submit">Save automatic failover</button></div>
    </form>
  </section>`;
}
