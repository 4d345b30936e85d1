import { Gauge, Registry } from 'prom-client';
import { writeFileAtomicSync } from '../shared/fs.js';
import type { UpgradeReport } from './report.js';

const OUTCOMES = ['finished', 'paused', 'failed'] as const;

/**
 * The orchestrator's results for Prometheus, as a file for node_exporter's textfile collector
 * (`gatehouse upgrade run --metrics-textfile FILE`): written when a run starts (in progress)
 * and when it stops. The orchestrator is a command, not a server, so it is not scraped itself.
 * Written whole and renamed, as the textfile collector requires.
 */
export async function writeUpgradeTextfile(
  file: string,
  report: UpgradeReport | undefined,
): Promise<void> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  gauge(
    'gatehouse_upgrade_in_progress',
    'Whether an upgrade run is under way or waits at the interim period between its windows',
  ).set(!report || report.outcome === 'paused' || report.outcome === 'running' ? 1 : 0);
  gauge('gatehouse_upgrade_last_change_timestamp_seconds', 'When this file was written').set(
    Date.now() / 1000,
  );
  if (report) {
    const outcome = gauge(
      'gatehouse_upgrade_outcome',
      'How the last upgrade run stopped (1 for its outcome)',
      ['outcome'],
    );
    for (const o of OUTCOMES) outcome.set({ outcome: o }, report.outcome === o ? 1 : 0);
    gauge(
      'gatehouse_upgrade_downtime_seconds',
      'Client-visible downtime the probes measured during the run',
    ).set(report.downtime.totalMs / 1000);
    gauge(
      'gatehouse_upgrade_predicted_downtime_seconds',
      'Downtime the plan predicted for the run',
    ).set(report.predicted.siteDowntimeMs / 1000);
    gauge(
      'gatehouse_upgrade_without_failover_seconds',
      'How long the site ran without failover (interim period included)',
    ).set(report.withoutFailoverMs / 1000);
    gauge('gatehouse_upgrade_failed_probes', 'Probes of the site that failed during the run').set(
      report.downtime.failedProbes,
    );
    if (report.integrity)
      gauge(
        'gatehouse_upgrade_integrity_ok',
        '1 when the integrity check found nothing lost and every copy equal',
      ).set(report.integrity.lost.length || report.integrity.mismatched.length ? 0 : 1);
  }
  writeFileAtomicSync(file, await registry.metrics(), 0o644);
}
