/**
 * The error codes of failover/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const failoverErrors = errorCatalogue({
  FAILOVER_ADDRESS_MOVES: {
    status: 400,
    fix: 'Enter the unique address of each appliance (Networking > IP Configuration lists it as "unique").',
  },
  FAILOVER_ALREADY_PAIRED: { status: 409, fix: 'Break that relationship first.' },
  FAILOVER_BACKUP_READ_ONLY: {
    status: 409,
    fix: 'Make the change on "…"; nothing was changed here.',
  },
  FAILOVER_BACKUP_STALE: {
    status: 409,
    fix: 'Sync Now first; to promote it anyway, tick "even if the peer site cannot be contacted" (force).',
  },
  FAILOVER_BUSY: { status: 409, fix: 'Wait until it has finished, then try again.' },
  FAILOVER_KEY_MISMATCH: {
    status: 401,
    fix: "Copy the key from one appliance's /login > Management > Security page to the other's, then try again.",
  },
  FAILOVER_NOT_PAIRED: {
    status: 409,
    fix: 'Establish one first, on the appliance intended to be the primary.',
  },
  FAILOVER_NOTHING_SCHEDULED: {
    status: 409,
    fix: 'Nothing to cancel; GET /api/login/failover shows whether a switchover is scheduled.',
  },
  FAILOVER_NOT_PEER: {
    status: 409,
    fix: 'Establish the relationship again from the primary, or break the stale one on the other appliance.',
  },
  FAILOVER_NOT_REPLICATED: { status: 503, fix: 'Check whether it is there before trying again.' },
  FAILOVER_PEER_PAIRED: {
    status: 409,
    fix: 'Break that relationship (on either of those appliances) before pairing it with "…".',
  },
  FAILOVER_PEER_UNREACHABLE: {
    status: 502,
    fix: 'Check the host and the TLS port (the one its web console uses), and that it is running.',
  },
  FAILOVER_PRIMARY_FENCED: {
    status: 503,
    fix: 'Check on the primary whether it is there before trying again.',
  },
  FAILOVER_SCHEDULE_NOT_BACKUP: {
    status: 409,
    fix: 'Schedule the switchover on the backup, the appliance that becomes primary at that time.',
  },
  FAILOVER_REVERSE_MISMATCH: {
    status: 409,
    fix: 'Enter the address and TLS port at which the backup reaches this primary (the reverse connection details).',
  },
  FAILOVER_REVERSE_UNREACHABLE: {
    status: 409,
    fix: 'Check that the backup can reach this primary at the reverse connection details (address, TLS port, firewall), or enter other ones.',
  },
  FAILOVER_SELF: {
    status: 400,
    also: [409],
    fix: 'Enter the address and TLS port of the other appliance, the one that becomes the backup.',
  },
  FAILOVER_SWITCHOVER_SCHEDULED: {
    status: 409,
    fix: 'Cancel the scheduled switchover first, then schedule the new time.',
  },
  FAILOVER_VERSION_NEWER: {
    status: 409,
    fix: 'Upgrade this appliance (the backup) first, then establish the relationship again.',
  },
  PEER_AUTH_REQUIRED: {
    status: 401,
    fix: 'Only another Gatehouse appliance holding the same Inter-Appliance key calls this endpoint.',
  },
  PEER_CLOCK_SKEW: { status: 401, fix: "Synchronise both appliances' clocks (NTP)." },
  PEER_REPLAY: {
    status: 401,
    fix: "The sending appliance signs a new one when it tries again; if this repeats, synchronise both appliances' clocks (NTP).",
  },
  SYNC_BLOB_STREAM: {
    status: 502,
    fix: 'Sync again; if it persists, check the network between the appliances.',
  },
  SYNC_DIGEST_MISMATCH: {
    status: 500,
    fix: "Sync again; if it persists, check both appliances' logs.",
  },
  SYNC_NOT_BACKUP: { status: 409, fix: "Sync from the primary of this appliance's relationship." },
  SYNC_PEER_CHANGING: { status: 409, fix: 'Sync again when it is less busy.' },
  SYNC_SCHEMA_MISMATCH: {
    status: 409,
    fix: "Upgrade this appliance to the peer's version, then sync again.",
  },
  SYNC_UNAVAILABLE: {
    status: 409,
    fix: 'Restart the appliance so that its synchronisation service runs, then try again.',
  },
  SYNC_VERSION_NEWER: { status: 409, fix: 'Upgrade this appliance first, then sync again.' },
  WITNESS_BODY_TOO_LARGE: { status: 413, fix: 'Send a lease request only (a few fields of JSON).' },
  WITNESS_FAILED: {
    status: 500,
    fix: 'Read the witness log for the cause; the pair keeps its roles meanwhile.',
  },
  WITNESS_NOT_FOUND: { status: 404, fix: 'Send lease requests to the path the error names.' },
  WITNESS_NOT_OF_PAIR: {
    status: 403,
    fix: 'Ask about a pair this appliance belongs to: name this appliance and its peer.',
  },
});
