import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventRecord } from '../site/events.js';
import { clientMetrics } from './metrics-clients.js';
import { failoverMetrics } from './metrics-failover.js';
import type { MonitoredAppliance } from './source.js';

const INSTALL_RESULTS = ['committed', 'rolled-back', 'refused', 'failed'] as const;
/** The blob store is walked at most this often: a scrape must stay cheap. */
const BLOB_WALK_EVERY_MS = 60_000;

export interface ApplianceMetrics {
  registry: Registry;
  /** One answered HTTP request: `route` is the route's template, never the URL. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void;
}

/**
 * The Prometheus metrics of one appliance. Most are gauges read from the domain services when
 * Prometheus scrapes; counters follow the event log, so no domain code counts anything itself.
 * Counters start at zero with the process, as Prometheus's rate() and increase() expect.
 */
export function createMetrics(appliance: MonitoredAppliance): ApplianceMetrics {
  const registry = new Registry();
  const registers = [registry];
  // Event-loop lag, heap, CPU, file descriptors: prom-client's standard process metrics.
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'gatehouse_build_info',
    help: 'The software this appliance runs (always 1)',
    labelNames: ['appliance', 'product_version', 'base_version', 'node_version'],
    registers,
  }).set(
    {
      appliance: appliance.name,
      product_version: appliance.productVersion,
      base_version: appliance.baseVersion,
      node_version: process.version,
    },
    1,
  );
  failoverMetrics(registry, appliance);
  clientMetrics(registry, appliance);
  updateMetrics(registry, appliance);
  storageMetrics(registry, appliance);
  syslogMetrics(registry, appliance);
  new Gauge({
    name: 'gatehouse_tls_certificate_expiry_timestamp_seconds',
    help: "When the appliance's TLS certificate expires",
    registers,
  }).set(appliance.certificateNotAfter / 1000);

  const requests = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP requests answered, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers,
  });
  return {
    registry,
    observeRequest(method, route, statusCode, seconds) {
      requests.observe({ method, route, status_code: String(statusCode) }, seconds);
    },
  };
}

function updateMetrics(registry: Registry, appliance: MonitoredAppliance): void {
  const registers = [registry];
  // A counter kept by the install history on disk, so a restart (every install is one)
  // does not reset it.
  new Counter({
    name: 'gatehouse_update_installs_total',
    help: 'Software installs on this appliance, by result (from its install history)',
    labelNames: ['result'],
    registers,
    collect() {
      this.reset();
      const history = appliance.updates().history;
      for (const result of INSTALL_RESULTS)
        this.inc({ result }, history.filter((h) => h.event === result).length);
    },
  });
  new Gauge({
    name: 'gatehouse_update_last_install_timestamp_seconds',
    help: 'When the last install ended (committed, rolled back, refused or failed); 0 if never',
    registers,
    collect() {
      const last = appliance
        .updates()
        .history.find((h) => (INSTALL_RESULTS as readonly string[]).includes(h.event));
      this.set(last ? Date.parse(last.at) / 1000 : 0);
    },
  });
  new Gauge({
    name: 'gatehouse_update_in_progress',
    help: 'Whether a software update is being installed or verified on this appliance',
    registers,
    collect() {
      this.set(appliance.updates().inProgress ? 1 : 0);
    },
  });
  new Gauge({
    name: 'gatehouse_update_last_check_timestamp_seconds',
    help: 'When this appliance last checked for updates since it started; 0 if not yet',
    registers,
    collect() {
      const last = appliance.updates().lastCheck;
      this.set(last ? Date.parse(last.at) / 1000 : 0);
    },
  });
  const checks = new Counter({
    name: 'gatehouse_update_checks_total',
    help: 'Checks for updates, by result',
    labelNames: ['result'],
    registers,
  });
  for (const result of ['ok', 'failed']) checks.inc({ result }, 0);
  appliance.events.subscribe((e: EventRecord) => {
    if (e.action === 'updates.checked')
      checks.inc({ result: e.outcome === 'ok' ? 'ok' : 'failed' });
  });
}

function storageMetrics(registry: Registry, appliance: MonitoredAppliance): void {
  const registers = [registry];
  let blobs: { bytes: number; at: number } | undefined;
  new Gauge({
    name: 'gatehouse_database_size_bytes',
    help: 'Size of the embedded database (with its write-ahead log)',
    registers,
    collect() {
      this.set(appliance.storage().databaseBytes);
    },
  });
  new Gauge({
    name: 'gatehouse_blob_store_size_bytes',
    help: 'Size of the blob store (files, recordings); measured at most once a minute',
    registers,
    async collect() {
      if (!blobs || Date.now() - blobs.at > BLOB_WALK_EVERY_MS)
        blobs = { bytes: await appliance.storage().blobStoreBytes(), at: Date.now() };
      this.set(blobs.bytes);
    },
  });
  new Gauge({
    name: 'gatehouse_disk_size_bytes',
    help: "Size of the file system of the appliance's data directory",
    registers,
    collect() {
      this.set(appliance.storage().diskTotalBytes);
    },
  });
  new Gauge({
    name: 'gatehouse_disk_free_bytes',
    help: "Free space (for the appliance's user) on the file system of its data directory",
    registers,
    collect() {
      this.set(appliance.storage().diskFreeBytes);
    },
  });
}

function syslogMetrics(registry: Registry, appliance: MonitoredAppliance): void {
  const registers = [registry];
  const counter = (name: string, help: string, value: (s: SyslogStatus) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(value(appliance.syslog() ?? IDLE));
      },
    });
  counter(
    'gatehouse_syslog_sent_total',
    'Event-log messages written to the syslog collector',
    (s) => s.sent,
  );
  counter(
    'gatehouse_syslog_dropped_total',
    'Event-log messages dropped, oldest first, because the spool for syslog was full',
    (s) => s.dropped,
  );
  new Gauge({
    name: 'gatehouse_syslog_queued_messages',
    help: 'Event-log messages waiting on disk for the syslog collector',
    registers,
    collect() {
      this.set((appliance.syslog() ?? IDLE).queued);
    },
  });
  new Gauge({
    name: 'gatehouse_syslog_connected',
    help: 'Whether the appliance is connected to its syslog collector',
    registers,
    collect() {
      this.set((appliance.syslog() ?? IDLE).connected ? 1 : 0);
    },
  });
}

type SyslogStatus = NonNullable<ReturnType<MonitoredAppliance['syslog']>>;
const IDLE: SyslogStatus = { connected: false, queued: 0, sent: 0, dropped: 0 };
