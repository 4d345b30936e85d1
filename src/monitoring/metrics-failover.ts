import { Counter, Gauge, type Registry } from 'prom-client';
import type { EventRecord } from '../site/events.js';
import type { MonitoredAppliance } from './source.js';

const ROLES = ['standalone', 'primary', 'backup'] as const;
const seconds = (ms: number) => ms / 1000;

/**
 * Failover: the role and generation, whether the relationship was broken (S4's interim period
 * without failover), the peer's reachability and the backup's synchronisation.
 */
export function failoverMetrics(registry: Registry, appliance: MonitoredAppliance): void {
  const registers = [registry];
  // Whether the last relationship change was a break, and when: read once, then followed.
  let broken = brokenSince(appliance.events.latest(['failover.established', 'failover.broken']));
  new Gauge({
    name: 'gatehouse_failover_role',
    help: 'Failover role of this appliance (1 for the current role)',
    labelNames: ['role'],
    registers,
    collect() {
      const role = appliance.failover().role;
      for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0);
    },
  });
  new Gauge({
    name: 'gatehouse_failover_generation',
    help: 'Generation of the failover relationship, raised at every role change (0 when standalone)',
    registers,
    collect() {
      this.set(appliance.failover().generation ?? 0);
    },
  });
  new Gauge({
    name: 'gatehouse_failover_broken',
    help: '1 while the failover relationship of this appliance is broken and not re-established',
    registers,
    collect() {
      this.set(broken === null ? 0 : 1);
    },
  });
  new Gauge({
    name: 'gatehouse_failover_broken_since_timestamp_seconds',
    help: 'When the failover relationship was broken (0 unless broken)',
    registers,
    collect() {
      this.set(broken === null ? 0 : seconds(broken));
    },
  });
  new Gauge({
    name: 'gatehouse_failover_peer_reachable',
    help: 'Whether the last heartbeat reached the failover peer (0 when standalone)',
    registers,
    collect() {
      this.set(appliance.failover().peerReachable ? 1 : 0);
    },
  });
  new Gauge({
    name: 'gatehouse_failover_peer_last_contact_timestamp_seconds',
    help: 'When the failover peer last answered a heartbeat (0 if not since start)',
    registers,
    collect() {
      this.set(seconds(appliance.failover().peerLastContact ?? 0));
    },
  });
  new Gauge({
    name: 'gatehouse_failover_last_sync_timestamp_seconds',
    help: 'When the last successful synchronisation pulled by this appliance (the backup) finished (0 if never)',
    registers,
    collect() {
      const last = appliance.failover().lastSync;
      this.set(last ? seconds(Date.parse(last.finishedAt)) : 0);
    },
  });
  new Gauge({
    name: 'gatehouse_failover_last_sync_duration_seconds',
    help: 'How long the last successful synchronisation took',
    registers,
    collect() {
      this.set(seconds(appliance.failover().lastSync?.ms ?? 0));
    },
  });

  const syncs = new Counter({
    name: 'gatehouse_failover_syncs_total',
    help: 'Synchronisations pulled by this appliance, by result',
    labelNames: ['result'],
    registers,
  });
  const failures = new Counter({
    name: 'gatehouse_failover_sync_failures_total',
    help: 'Failed synchronisations, by error code',
    labelNames: ['code'],
    registers,
  });
  const rows = new Counter({
    name: 'gatehouse_failover_synced_rows_total',
    help: 'Rows changed by synchronisation',
    registers,
  });
  const blobs = new Counter({
    name: 'gatehouse_failover_synced_blobs_total',
    help: 'Blobs (files, recordings) fetched by synchronisation',
    registers,
  });
  const bytes = new Counter({
    name: 'gatehouse_failover_synced_bytes_total',
    help: 'Bytes of blobs fetched by synchronisation',
    registers,
  });
  for (const result of ['ok', 'failed']) syncs.inc({ result }, 0);

  appliance.events.subscribe((e: EventRecord) => {
    if (e.action === 'failover.established') broken = null;
    else if (e.action === 'failover.broken') broken = e.ts;
    else if (e.action === 'failover.sync') {
      const d = e.details as {
        code?: string;
        rows?: Record<string, number>;
        blobs?: { fetched?: number; bytes?: number };
      };
      syncs.inc({ result: e.outcome === 'ok' ? 'ok' : 'failed' });
      if (e.outcome !== 'ok') failures.inc({ code: errorCode(d.code) });
      else {
        rows.inc(Object.values(d.rows ?? {}).reduce((a, b) => a + b, 0));
        blobs.inc(d.blobs?.fetched ?? 0);
        bytes.inc(d.blobs?.bytes ?? 0);
      }
    }
  });
}

function brokenSince(last: EventRecord | undefined): number | null {
  return last?.action === 'failover.broken' ? last.ts : null;
}

/** Error codes are stable upper-case identifiers; anything else is one bucket (bounded labels). */
const errorCode = (code: string | undefined) =>
  code && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'OTHER';
