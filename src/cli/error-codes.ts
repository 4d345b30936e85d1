/**
 * The error codes of cli/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const cliErrors = errorCatalogue({
  CONSOLE_NOT_SIGNED_IN: {
    status: 400,
    fix: 'Run `gatehouse console sign-in --site HOST:PORT --fingerprint FP --user NAME` first.',
  },
  CONSOLE_SIGN_IN_EXPIRED: { status: 401, fix: 'Run `gatehouse console sign-in` again.' },
  UPDATE_SERVER_PACKAGES_DAMAGED: {
    status: 500,
    fix: 'Follow the repair steps printed with the error: publish the damaged packages again.',
  },
  UPGRADE_IN_PROGRESS: {
    status: 409,
    fix: 'Run `gatehouse upgrade resume --inventory …`, or `continue` after the interim pause.',
  },
  UPGRADE_NOT_PAUSED: { status: 409, fix: 'Use `gatehouse upgrade resume` to go on.' },
  UPGRADE_PAUSED: {
    status: 409,
    fix: 'Run `gatehouse upgrade continue` to start the second window.',
  },
  UPGRADE_PRECONDITIONS_FAILED: { status: 409, fix: 'Nothing was changed.' },
  WITNESS_KEY_FILE: {
    status: 400,
    fix: "Give --key-file the file holding the pair's Inter-Appliance key (from /login > Management > Security).",
  },
});
