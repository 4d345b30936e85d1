/**
 * The error codes of clients/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const clientsErrors = errorCatalogue({
  CLIENT_BUILD_NOT_PRODUCT: {
    status: 400,
    fix: "Upload the product package of the site's version; a client build is a product package.",
  },
  CLIENT_BUILD_WRONG_VERSION: {
    status: 400,
    fix: 'Ask an appliance administrator to check the staged product packages.',
  },
  CLIENT_NO_RELEASE_KEYS: {
    status: 400,
    fix: 'Reinstall with `gatehouse console install` or `gatehouse jump-client install` and --release-key KEY.pub.',
  },
  CLIENT_VERSION_RUNNING: {
    status: 409,
    fix: 'Nothing to do: the installation already runs that version.',
  },
  CONSOLE_NOT_INSTALLED: {
    status: 400,
    fix: 'Install one with `gatehouse console install --dir … --release-key KEY.pub`.',
  },
  CONSOLE_RESTART_FAILED: { status: 500, fix: 'Run the command again.' },
  EXPORT_NOT_PRIMARY: {
    status: 409,
    fix: "The site's records are the primary's: …, or leave out --require-primary to export from this appliance anyway.",
  },
  EXPORT_PAGE_STUCK: { status: 502, fix: 'Report this to Gatehouse support.' },
  EXPORT_SQLITE_UNUSABLE: {
    status: 400,
    fix: "Give a new file name or an earlier export's database.",
  },
  EXPORT_STATE_UNREADABLE: {
    status: 400,
    fix: 'Remove it to export from --since again; files already exported are kept and not duplicated.',
  },
  JUMP_CLIENT_INSTALLED_OTHER_NAME: {
    status: 409,
    fix: 'Leave out --name to replace the installation in place, or install the other name in another --dir.',
  },
  JUMP_CLIENT_INSTALLER_OTHER_VERSION: {
    status: 409,
    fix: 'Use the installer of the installed version (the installation keeps a copy in DIR/installers).',
  },
  JUMP_CLIENT_NOT_INSTALLED: {
    status: 400,
    fix: 'Install one with `gatehouse jump-client install --dir … --installer FILE.ghjc --release-key KEY.pub`.',
  },
  JUMP_CLIENT_IDENTITY_OTHER_NAME: {
    status: 400,
    fix: 'Give each Jump Client its own identity file.',
  },
  JUMP_CLIENT_IDENTITY_UNREADABLE: { status: 400, fix: 'Check its owner and mode (600).' },
  RECORDING_DIGEST_MISMATCH: {
    status: 502,
    fix: "Nothing was kept; run the export again, and if it repeats, check the appliance's blob store.",
  },
  SESSION_RESUME_GAP: { status: 502, fix: 'Start a new session; this one cannot go on.' },
});
