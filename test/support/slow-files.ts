/**
 * The suite's slowest files with their time in ms on a clean run (npm test, 2 workers,
 * Dec 7 2026). CI starts from a fresh machine with no vitest cache, so vitest alone orders
 * files by size, and the longest file (netns-cluster, 3.7 min) started last and was the
 * suite's whole tail. test/support/sequencer.ts starts these first, longest first, so the
 * short files fill the end of the run on both workers. Refresh the figures when a file's time
 * changes by a lot, or add a file that grows past ~30 s.
 */
export const SLOW_FILES: Readonly<Record<string, number>> = {
  'test/netns-cluster.test.ts': 224_526,
  'test/updates-crash.test.ts': 142_513,
  'test/upgrade-lab-records.test.ts': 134_303,
  'test/lab.test.ts': 128_187,
  'test/splitbrain-netns.test.ts': 105_108,
  'test/upgrade-cluster.test.ts': 99_273,
  'test/jump-client-upgrade.test.ts': 77_199,
  'test/lab-netns.test.ts': 62_406,
  'test/upgrade-sync.test.ts': 55_540,
  'test/session-resume-moves.test.ts': 52_980,
  'test/netns-upgrade.test.ts': 130_000,
  'test/upgrade-schedule.test.ts': 48_386,
  'test/updates.test.ts': 44_909,
  'test/failover.browser.test.ts': 44_346,
  'test/status.browser.test.ts': 44_220,
  'test/cluster-updates.test.ts': 42_496,
  'test/demo.test.ts': 37_059,
  'test/upgrade-async.test.ts': 36_641,
  'test/upgrade-cluster-no-failover.test.ts': 35_790,
  'test/shared-ip-release-netns.test.ts': 35_812,
  'test/health-primary.test.ts': 33_546,
  'test/cli.test.ts': 33_466,
  'test/upgrade-recover.test.ts': 31_942,
  'test/updates-online.test.ts': 31_234,
  'test/update-server.test.ts': 30_021,
};
