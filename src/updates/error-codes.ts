/**
 * The error codes of updates/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const updatesErrors = errorCatalogue({
  APPLIANCE_NAME_ENROLLED: {
    status: 409,
    fix: 'Re-key it (--rekey, or Re-key on /admin) only if that appliance was re-installed and shows this fingerprint.',
  },
  REGISTRATION_TOKEN_INVALID: {
    status: 403,
    fix: "Ask the update server's operator for a new registration token (/admin, or `gatehouse update-server token create`).",
  },
  APPLIANCE_KEY_REVOKED: {
    status: 403,
    fix: 'Nothing is listed or downloaded for it; ask the operator.',
  },
  APPLIANCE_NAME_MISMATCH: {
    status: 403,
    fix: "If the appliance was renamed, ask the update server's operator to revoke the old name and enrol it again under its new name.",
  },
  APPLIANCE_NOT_ENROLLED: {
    status: 403,
    fix: "Ask the update server's operator for a registration token and enter it with the update server settings on the appliance's Updates page, or ask the operator to approve the appliance's identity key fingerprint on /admin.",
  },
  APPLIANCE_ALREADY_CONFIRMED: {
    status: 409,
    fix: 'Nothing to review: the appliance was enrolled with proof.',
  },
  PENDING_KEY_NOT_FOUND: {
    status: 404,
    fix: 'Approve one of the keys waiting (listed on /admin and in the message).',
  },
  ADMIN_INVALID_PASSWORD: {
    status: 401,
    fix: 'It was set (or generated and printed) by `gatehouse update-server init`.',
  },
  APPLIANCE_UNKNOWN: { status: 404, fix: 'Known appliances: ….' },
  BOOT_STATE_DAMAGED: {
    status: 500,
    fix: 'It is written atomically, so this means it was edited by hand: restore it, or write {"format":1,"active":"factory"} to run the software the appliance was first started with.',
  },
  CONSOLE_BUILD_NOT_AVAILABLE: {
    status: 404,
    fix: 'An appliance administrator should upload the product package … on /appliance > Updates (Manual Installation); it is kept as the console build.',
  },
  JUMP_CLIENT_INSTALLER_INVALID: {
    status: 400,
    fix: 'Download the Jump Client installer again from /appliance > Updates (Downloaded packages, Client installers).',
  },
  DATA_DIR_NOT_EMPTY: {
    status: 400,
    fix: 'Choose a new directory; an existing update server is started with `gatehouse update-server start`.',
  },
  DISTRIBUTE_FAILED: { status: 502, fix: 'Retry once they are reachable.' },
  DOWNLOAD_AUTH_REQUIRED: {
    status: 401,
    fix: 'Send the Appliance Download Key as the message shows, or use a link from the download-key page.',
  },
  DOWNLOAD_KEY_BAD_SIGNATURE: {
    status: 401,
    fix: 'Make a new Appliance Download Key on the appliance (/appliance > Updates) and give it again.',
  },
  DOWNLOAD_KEY_EXPIRED: {
    status: 401,
    fix: "Make a new Appliance Download Key; if it was made moments ago, check the appliance's clock.",
  },
  DOWNLOAD_KEY_MALFORMED: {
    status: 400,
    fix: 'Copy the whole key shown on the appliance\'s Updates page (it starts with "….") and paste it again.',
  },
  DOWNLOAD_KEY_OTHER_APPLIANCE: {
    status: 403,
    fix: 'Generate the key on the appliance "…" itself. If that appliance was re-installed, ask the update server\'s operator to forget the old one (gatehouse update-server forget --appliance …).',
  },
  DOWNLOAD_NOT_RECORDED: {
    status: 404,
    fix: '`gatehouse update-server list` shows its downloads.',
  },
  DOWNLOAD_TICKET_EXPIRED: {
    status: 401,
    fix: 'Open the download-key page again for a fresh link.',
  },
  DOWNLOAD_TICKET_INVALID: {
    status: 401,
    fix: 'Paste the Appliance Download Key on the download page again.',
  },
  PACKAGE_ALREADY_DOWNLOADED: {
    status: 409,
    fix: 'To download it again, ask the operator of this update server to reset that download (Reset on /admin, or `gatehouse update-server reset --appliance … --version …`).',
  },
  PACKAGE_BAD_SIGNATURE: {
    status: 400,
    fix: 'Download the package again from the update server; do not alter it after signing.',
  },
  PACKAGE_CHANGED_WHILE_PUBLISHING: { status: 409, fix: 'Publish it again once it is complete.' },
  PACKAGE_NOT_RECOGNISED: {
    status: 400,
    fix: 'Choose an update package from the update server; this file is something else.',
  },
  PACKAGE_TRUNCATED: {
    status: 400,
    fix: 'Download the package again; this copy was cut short.',
  },
  PACKAGE_CORRUPT: { status: 400, fix: 'Download the package again; the file is damaged.' },
  PACKAGE_DAMAGED_ON_UPDATE_SERVER: {
    status: 503,
    fix: "Ask the update server's operator to …; then download again.",
  },
  PACKAGE_EMPTY: {
    status: 400,
    fix: 'Choose the package file (.ghpkg) you downloaded from the update server.',
  },
  PACKAGE_FILE_NOT_FOUND: { status: 400, fix: 'Give the path of a .ghpkg file.' },
  PACKAGE_NOT_FOUND: { status: 404, fix: 'Check for updates again for the current list.' },
  PACKAGE_SOURCE_INVALID: { status: 400, fix: 'Build the code first (npm run build).' },
  PACKAGE_TOO_LARGE: {
    status: 413,
    fix: 'Free some space (e.g. remove staged packages) and try again.',
  },
  PACKAGE_UNTRUSTED_SIGNER: {
    status: 400,
    fix: 'Install only packages published for Gatehouse (signed by a release key fixed at appliance init).',
  },
  PACKAGE_VERSION_ALREADY_PUBLISHED: {
    status: 409,
    fix: 'Appliances tell packages apart by version: build this one with a new version number.',
  },
  PACKAGE_VERSION_INVALID: { status: 400, fix: 'Give --version as MAJOR.MINOR.PATCH, e.g. 1.2.0.' },
  PACKAGE_WRONG_KIND: {
    status: 400,
    fix: 'Choose the … package file, or install this one as a … update.',
  },
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    fix: 'Resume from a size below …, or download the whole package again.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    fix: 'Send application/json, or application/octet-stream for uploads.',
  },
  UPDATE_ALREADY_INSTALLED: { status: 409, fix: 'Nothing to do.' },
  UPDATE_AUTOMATIC_NOT_STANDALONE: {
    status: 409,
    fix: 'Install updates on a failover pair or cluster with `gatehouse upgrade`, not automatically.',
  },
  UPDATE_DISK_FULL: {
    status: 507,
    fix: 'Free some space (e.g. delete old staged packages) and try again.',
  },
  UPDATE_DOWNGRADE: {
    status: 409,
    fix: 'Downgrades are refused; choose force (API: "force": true) only if you mean to go back.',
  },
  UPDATE_DOWNLOAD_CORRUPT: {
    status: 502,
    fix: "The file was removed and it does not count as downloaded: download it again. If it is refused again, the update server's copy is damaged: its operator runs `gatehouse update-server verify` and publishes the good file again.",
  },
  UPDATE_DOWNLOAD_INTERRUPTED: { status: 502, fix: 'Download again: it resumes where it stopped.' },
  UPDATE_DOWNLOAD_IN_PROGRESS: { status: 409, fix: 'Wait for the download in progress to finish.' },
  UPDATE_FAILED: { status: 500, fix: 'Nothing was switched; the appliance keeps running ….' },
  UPDATE_IN_PROGRESS: { status: 409, also: [503], fix: 'Wait for it to finish.' },
  UPDATE_VERIFYING: {
    status: 503,
    fix: 'Retry in a few seconds: the appliance accepts changes again once it has verified the newly installed software.',
  },
  UPDATE_NO_RELEASE_KEY: {
    status: 409,
    fix: 'Release keys are fixed when the appliance is created (`gatehouse appliance init --release-key FILE`).',
  },
  UPDATE_REQUIRES_BASE: {
    status: 409,
    fix: 'Install the base … update first (S9), then this one.',
  },
  UPDATE_SERVER_CERT_MISMATCH: {
    status: 502,
    fix: 'Check the update server address; if its certificate was replaced, set the fingerprint it prints at start.',
  },
  UPDATE_SERVER_ERROR: { status: 502, fix: 'Try again later; its log says why.' },
  UPDATE_SERVER_FINGERPRINT_INVALID: {
    status: 400,
    fix: 'Give the SHA-256 fingerprint (32 hex pairs, AB:CD:…) as `gatehouse update-server start` prints it.',
  },
  UPDATE_SERVER_NOT_INITIALISED: {
    status: 400,
    fix: 'Create it with `gatehouse update-server init --data-dir … --release-key RELEASE.pub`.',
  },
  UPDATE_SERVER_NOT_SET: {
    status: 409,
    fix: 'Set its URL and certificate fingerprint under Update Server on this page (PUT /api/appliance/updates/server), or install manually with a package file.',
  },
  UPDATE_SERVER_PROTOCOL: { status: 502, fix: 'Check the update server address.' },
  UPDATE_SERVER_UNREACHABLE: {
    status: 502,
    fix: 'Check its address and that it is running; an appliance without access to it can be updated with an Appliance Download Key (manual update).',
  },
  UPDATE_SERVER_URL_INVALID: {
    status: 400,
    fix: 'Give the address the update server prints at start, e.g. https://updates.example.com:8444.',
  },
});
