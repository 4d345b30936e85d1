/**
 * The error codes of appliance/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const applianceErrors = errorCatalogue({
  ADDRESS_EXISTS: { status: 409, fix: 'Edit it instead.' },
  ADDRESS_LAST_UNIQUE: { status: 409, fix: 'Add another unique address first.' },
  ADDRESS_UNIQUE_ALWAYS_ENABLED: { status: 400, fix: 'Remove it instead.' },
  APPLIANCE_IDENTITY_CORRUPT: { status: 500, fix: 'Restore it from a copy of the data directory.' },
  APPLIANCE_NOT_INITIALISED: {
    status: 400,
    fix: 'Create it with `gatehouse appliance init --data-dir … --name NAME`.',
  },
  AUTH_ACCOUNT_DISABLED: { status: 403, fix: 'Ask an administrator to enable it.' },
  AUTH_INVALID_CREDENTIALS: { status: 400, also: [401], fix: 'Check both and try again.' },
  AUTH_NOT_ADMIN: { status: 403, fix: 'Ask an administrator to grant administrator rights.' },
  AUTH_REQUIRED: {
    status: 401,
    fix: 'Sign in to that area first (POST /api/<area>/session), then send the token as "Authorization: Bearer <token>".',
  },
  UPGRADE_CHANGE_NOT_CONFIRMED: {
    status: 409,
    fix: 'Make the change on the new primary, or send it again with X-Gatehouse-Confirm-Overwrite: true (the web console: tick the box) knowing the next sync overwrites it.',
  },
  BACKUP_BAD_SIGNATURE: { status: 400, fix: 'Use an unaltered copy.' },
  BACKUP_NOT_RECOGNISED: {
    status: 400,
    fix: 'Choose a backup archive downloaded from /appliance > Backup; this file is something else.',
  },
  BACKUP_TRUNCATED: {
    status: 400,
    fix: 'Use a complete copy downloaded from /appliance > Backup; this one was cut short.',
  },
  BACKUP_CORRUPT: {
    status: 400,
    fix: 'Restore from another copy of the backup; the file is damaged or not a Gatehouse backup.',
  },
  BACKUP_EMPTY: {
    status: 400,
    fix: 'Choose the archive file downloaded from /appliance > Backup.',
  },
  BACKUP_NEWER_VERSION: { status: 400, fix: 'Update this appliance to … or later, then restore.' },
  BACKUP_TOO_LARGE: { status: 413, fix: 'Free some space on the appliance and try again.' },
  BACKUP_UNTRUSTED_SIGNER: {
    status: 400,
    fix: 'If you trust that appliance, pass its key id as trustedSigner (shown on its /appliance > Backup page).',
  },
  BODY_EMPTY: { status: 400, fix: 'Send a JSON object.' },
  BODY_NOT_JSON: { status: 400, fix: 'Send a JSON object with Content-Type: application/json.' },
  BODY_TOO_LARGE: {
    status: 413,
    fix: 'Send uploads as application/octet-stream to the upload endpoints.',
  },
  DATA_DIR_IN_USE: {
    status: 409,
    fix: 'Stop that appliance first (kill -TERM …), or start another data directory.',
  },
  SHARED_ADDRESS_UNAVAILABLE: {
    status: 409,
    fix: 'Release the address on the appliance that holds it, or choose another shared address.',
  },
  UPDATE_NEEDS_SUPERVISOR: {
    status: 500,
    fix: 'Start the appliance with `gatehouse appliance start` (the supervisor) to install updates.',
  },
});
