import {
  AutomaticFailoverSchema,
  BackupOperationsInput,
  EstablishInput,
  RoleChangeInput,
  ScheduledSwitchoverInput,
  SyncIntervalInput,
} from '../relationship-schemas.js';
import { operationsOf, type Operation } from '../../shared/http/operations.js';
import type { FailoverSite } from './site.js';

/** An operation of the failover domain: its handler sees the appliance as `FailoverSite`. */
export type FailoverOperation = Operation<unknown, unknown, unknown, FailoverSite>;
const op = operationsOf<FailoverSite>({ area: 'login', tag: 'failover' });

/**
 * What the Failover page shows: role, peer, state (the peer contacted now), last sync,
 * automatic failover. `peerState` is absent when standalone.
 */
export async function failoverStatus(site: FailoverSite, contact = true) {
  const f = site.failover;
  const relationship = f.view() ?? null;
  const sync = relationship && contact ? await f.syncStatus() : null;
  return {
    appliance: site.name,
    role: f.role,
    acceptsClients: site.acceptsClients(),
    certificateFingerprint: site.certificateFingerprint,
    relationship,
    peerState: relationship ? (contact ? await f.contactPeer() : (f.monitor.last ?? null)) : null,
    /** The backup's sync progress and last result (asked of the peer on a primary). */
    sync,
    lastSync: sync?.lastResult ?? f.lastSync(),
    automatic: f.automatic(),
    /** The witness (asked now): whether it answers, who holds the lease, the last contact. */
    witness: relationship && contact ? await f.witnessView() : null,
    /** Why this backup is too stale to promote (maximum sync age), or null. */
    stale: f.staleness() ?? null,
    /** The planned Become Primary this backup will perform itself, or null. */
    scheduledSwitchover: f.scheduled.view() ?? null,
  };
}

/** Become Backup and Become Primary: the same input and answer, each its own route. */
function roleChange(change: 'becomeBackup' | 'becomePrimary', summary: string) {
  const path = change === 'becomeBackup' ? 'become-backup' : 'become-primary';
  return op(change, `POST /api/login/failover/${path}`, {
    summary,
    body: RoleChangeInput,
    response: { status: 200, description: 'The role change' },
    handler: ({ appliance, actor, body }) => appliance.failover[change](actor, body.force),
  });
}

/** /login > Management > Failover: the relationship (S14, S7, S25) and automatic failover. */
export const failoverOperations: FailoverOperation[] = [
  op('getFailover', 'GET /api/login/failover', {
    summary: 'Failover: role, peer, whether the peer answers now, last sync, automatic failover',
    response: { status: 200, description: 'The relationship as this appliance sees it' },
    handler: ({ appliance }) => failoverStatus(appliance),
  }),
  op('failoverHistory', 'GET /api/login/failover/history', {
    summary:
      'Failover status history: runs of peer status checks and role changes, newest first (bounded, kept across restarts)',
    response: { status: 200, description: 'History entries' },
    handler: ({ appliance }) => ({ entries: appliance.failover.store.history.list() }),
  }),
  op('establishFailover', 'POST /api/login/failover/establish', {
    summary:
      'Establish Relationship, on the intended primary: backup connection details and the reverse connection details (how the backup reaches this primary); the Inter-Appliance keys must match',
    body: EstablishInput,
    response: { status: 201, description: 'Established; the backup certificate is pinned' },
    handler: async ({ appliance, actor, body }) => {
      await appliance.failover.establish(actor, body);
      return failoverStatus(appliance, false);
    },
  }),
  op('syncFailoverNow', 'POST /api/login/failover/sync', {
    summary:
      "Sync Now: the backup pulls the primary's site data now; answers when the sync has completed, with its result (rows, blobs, digest)",
    response: { status: 200, description: 'The completed sync' },
    handler: ({ appliance, actor }) => appliance.failover.syncNow(actor),
  }),
  op('setFailoverSyncInterval', 'PUT /api/login/failover/sync-interval', {
    summary:
      'How often the backup syncs after the first sync (seconds, 5 to 86400); both appliances keep it, so the peer must answer',
    body: SyncIntervalInput,
    response: { status: 200, description: 'The relationship after the change' },
    handler: ({ appliance, actor, body }) =>
      appliance.failover.setSyncInterval(actor, body.syncIntervalSeconds),
  }),
  op('breakFailover', 'POST /api/login/failover/break', {
    summary:
      'Break Failover Relationship: both appliances go on alone with their data (the peer is told when it can be reached)',
    response: { status: 200, description: 'Broken; whether the peer was told' },
    handler: ({ appliance, actor }) => appliance.failover.break(actor),
  }),
  roleChange(
    'becomeBackup',
    'Become Backup: the peer runs a final sync and becomes primary; force = even if the peer site cannot be contacted',
  ),
  roleChange(
    'becomePrimary',
    'Become Primary: the peer steps down to backup; force = even if the peer cannot be contacted (it steps down when it returns)',
  ),
  op('scheduleSwitchover', 'PUT /api/login/failover/scheduled-switchover', {
    summary:
      'Schedule a planned switchover, on the backup: at `at` (ISO 8601 with its zone) this appliance runs Become Primary itself (not forced; a stale backup is refused then); kept across restarts, dropped if the appliance was down at that time',
    body: ScheduledSwitchoverInput,
    response: { status: 200, description: 'The scheduled switchover' },
    handler: ({ appliance, actor, body }) => appliance.failover.scheduled.schedule(actor, body.at),
  }),
  op('cancelScheduledSwitchover', 'DELETE /api/login/failover/scheduled-switchover', {
    summary: 'Cancel the scheduled switchover: nothing happens at its time',
    response: { status: 200, description: 'The switchover that was cancelled' },
    handler: ({ appliance, actor }) => appliance.failover.scheduled.cancel(actor),
  }),
  op('setBackupOperations', 'PUT /api/login/failover/backup-operations', {
    summary:
      'Enable Backup Operations: while disabled, this appliance as backup neither syncs nor takes over',
    body: BackupOperationsInput,
    response: { status: 200, description: 'The relationship after the change' },
    handler: ({ appliance, actor, body }) =>
      appliance.failover.setBackupOperations(actor, body.enabled),
  }),
  op('setAutomaticFailover', 'PUT /api/login/failover/automatic', {
    summary:
      'Automatic failover (off by default): the backup takes over when the primary has been unreachable for the set time and a check address still answers, or the witness grants it the lease',
    body: AutomaticFailoverSchema,
    response: { status: 200, description: 'The settings after the change' },
    handler: ({ appliance, actor, body }) => appliance.failover.setAutomatic(actor, body),
  }),
];
