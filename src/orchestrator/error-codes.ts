/**
 * The error codes of orchestrator/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const orchestratorErrors = errorCatalogue({
  INVENTORY_INVALID: { status: 400, fix: 'See docs/orchestrator.md for the format.' },
  INVENTORY_SECRET_MISSING: { status: 400, fix: 'Export it before running `gatehouse upgrade`.' },
  INVENTORY_UNKNOWN_APPLIANCE: {
    status: 400,
    fix: 'Use a name the inventory lists, or add the appliance to it.',
  },
  INVENTORY_UNREADABLE: { status: 400, fix: "Give the path of the deployment's inventory YAML." },
  UPGRADE_CLUSTER_SYNC_FAILED: {
    status: 502,
    fix: 'Make the nodes named reachable, then `gatehouse upgrade resume`.',
  },
  UPGRADE_DATA_LOST: { status: 500, fix: 'The backups taken before the upgrade are in …/backups.' },
  UPGRADE_DISTRIBUTE_FAILED: {
    status: 502,
    fix: 'Make the nodes named reachable with enough disk, then `gatehouse upgrade resume`.',
  },
  UPGRADE_DRAIN_TIMEOUT: {
    status: 504,
    fix: 'Nothing was installed on them; they still accept no new clients. Wait for those sessions to end and run `gatehouse upgrade resume`, or run `gatehouse upgrade resume --on-drain-timeout proceed` to install anyway at once (their sessions are cut).',
  },
  UPGRADE_INSTALL_FAILED: {
    status: 502,
    fix: "Read the install error on the appliance's Updates page, fix it, then `gatehouse upgrade resume`.",
  },
  UPGRADE_INSTALL_ROLLED_BACK: {
    status: 502,
    fix: 'The new software failed its health check: read the appliance log, then `gatehouse upgrade rollback` or fix and resume.',
  },
  UPGRADE_INSTALL_TIMEOUT: {
    status: 504,
    fix: 'Check the appliance (is it restarting?), then `gatehouse upgrade resume`; the step is idempotent.',
  },
  UPGRADE_JOURNAL_DAMAGED: { status: 500, fix: 'Inspect it before resuming.' },
  UPGRADE_NOT_PAIRED: {
    status: 409,
    fix: 'Establish the failover relationship first, or plan with a strategy that needs no pair.',
  },
  UPGRADE_ALREADY_SCHEDULED: {
    status: 409,
    fix: 'Cancel the scheduled window first with `gatehouse upgrade cancel`.',
  },
  UPGRADE_NOTHING_SCHEDULED: {
    status: 409,
    fix: '`gatehouse upgrade status` shows where the upgrade stands.',
  },
  UPGRADE_NO_JOURNAL: { status: 400, fix: 'Start one with `gatehouse upgrade run`.' },
  UPGRADE_NO_SHARED_IP: {
    status: 409,
    fix: 'Configure it under /appliance > Networking, or change trafficSwitch.method.',
  },
  UPGRADE_PACKAGE_CHANGED: { status: 409, fix: 'Plan again.' },
  UPGRADE_SITE_NOT_SWITCHED: {
    status: 504,
    fix: "Check the traffic switch (a DNS record's TTL above 5 min, a NAT rule not rewritten), then `gatehouse upgrade resume`.",
  },
  UPGRADE_STEP_FAILED: {
    status: 500,
    fix: 'Read the step error in the journal, fix the cause, then `gatehouse upgrade resume`.',
  },
  UPGRADE_VERSION_NOT_OFFERED: {
    status: 400,
    fix: 'Give --to one of the versions the update server offers, or --packages DIR.',
  },
  VERIFY_CONSOLE_BUILD_DAMAGED: {
    status: 502,
    fix: "Upload the product package of the site's version to the site's Updates page again.",
  },
  VERIFY_CONSOLE_BUILD_WRONG: {
    status: 502,
    fix: "Upload the product package of the site's version to the site's Updates page again.",
  },
  VERIFY_NO_CONSOLE_BUILD: {
    status: 502,
    fix: "Upload the product package of … to the site's Updates page.",
  },
  VERIFY_SESSION_FAILED: {
    status: 502,
    fix: 'Check that the site answers at the address named and that a Jump Client can reach it, then resume.',
  },
  VERIFY_UNHEALTHY: {
    status: 502,
    fix: "Read the appliance's /health and log, fix it, then `gatehouse upgrade resume`.",
  },
  VERIFY_WRONG_VERSION: {
    status: 502,
    fix: 'Install the target version on the appliance named (or roll back), then resume.',
  },
});
