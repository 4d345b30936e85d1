/**
 * The error codes of sessions/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const sessionsErrors = errorCatalogue({
  RECORDING_NOT_YOURS: { status: 403, fix: 'Ask a site administrator to download it from /login.' },
  TARGET_NOT_ALLOWED: {
    status: 403,
    fix: 'Choose one of the targets the Jump Client allows, or add this target to its allowed list.',
  },
  APPLIANCE_STOPPING: { status: 503, fix: 'Reconnect through the site hostname.' },
  CLIENT_NEWER_THAN_SITE: {
    status: 426,
    fix: "Upgrade the site to the client's version, or install the site's client build.",
  },
  CLIENT_TICKET_EXPIRED: { status: 401, fix: 'Sign in to the site again.' },
  CLIENT_TICKET_INVALID: { status: 401, fix: 'Sign in to the site again.' },
  CUSTOMER_NOT_YOURS: {
    status: 403,
    fix: 'Only the representative who gave the session key starts sessions with that customer client.',
  },
  ECONNRESET: { status: 502, fix: 'Start the session again.' },
  JUMP_CLIENT_CHALLENGE_INVALID: {
    status: 401,
    fix: 'Ask for a new one (POST /api/client/jump-clients/challenge).',
  },
  JUMP_CLIENT_KEY_WRONG: {
    status: 401,
    fix: 'Enrol the installation with an enrolment token from /login > Jump Clients.',
  },
  JUMP_CLIENT_LEGACY_KEY_CLOSED: {
    status: 401,
    fix: 'Enrol the installation with an enrolment token from /login > Jump Clients (`gatehouse jump-client --token-file FILE`).',
  },
  JUMP_CLIENT_NAME_IN_USE: {
    status: 409,
    fix: 'Give this Jump Client another name, or stop the one connected under that name.',
  },
  JUMP_CLIENT_NAME_RESERVED: { status: 400, fix: 'Choose another name for this Jump Client.' },
  JUMP_CLIENT_NAME_TAKEN: {
    status: 409,
    fix: 'Choose another name, or have an administrator revoke that installation (/login > Jump Clients) or give a token that replaces it.',
  },
  JUMP_CLIENT_NOT_CONNECTED: {
    status: 404,
    fix: 'List the connected ones with `gatehouse console jump-clients` and start the session again.',
  },
  JUMP_CLIENT_NOT_ENROLLED: { status: 401, fix: 'Enrol again with an enrolment token.' },
  JUMP_CLIENT_REVOKED: {
    status: 401,
    fix: 'Enrol it again with a new enrolment token (/login > Jump Clients).',
  },
  JUMP_CLIENT_SIGNATURE_INVALID: {
    status: 401,
    fix: 'Enrol the Jump Client again with a new enrolment token.',
  },
  JUMP_CLIENT_TOKEN_INVALID: {
    status: 401,
    fix: 'Ask an administrator for a new one (/login > Jump Clients).',
  },
  JUMP_CLIENT_TOKEN_OTHER_NAME: {
    status: 403,
    fix: 'Use the name the token was made for, or ask for a token for this name.',
  },
  NODE_NOT_ACCEPTING: { status: 503, fix: 'Reconnect through the site hostname.' },
  NOT_ACCEPTING_CLIENTS: {
    status: 503,
    fix: 'Connect to the site hostname, which points at the primary.',
  },
  RECORDING_DAMAGED: { status: 422, fix: 'Download it again from the site.' },
  RECORDING_NOT_FOUND: {
    status: 404,
    fix: 'The session left no recording (it never carried bytes, or recordings were not copied).',
  },
  RESUME_TOKEN_REPLAYED: {
    status: 409,
    fix: 'Start a new session: the session has moved on since that resume token was issued.',
  },
  STREAM_RESET: {
    status: 502,
    fix: 'Start the session again: the other end of the relay stopped the stream on an error.',
  },
  SESSION_ENDED: { status: 410, also: [502], fix: 'Start a new session.' },
  SESSION_KEYS_THROTTLED: {
    status: 429,
    fix: 'Wait the time given, then enter the session key again.',
  },
  SESSION_KEY_WRONG: { status: 401, fix: 'Ask your representative for a new one.' },
  SESSION_NOT_FOUND: { status: 404, fix: 'List them with GET /api/login/sessions.' },
  SESSION_NOT_PENDING: { status: 404, fix: 'Start the session again from the console.' },
  SESSION_PAUSED: {
    status: 503,
    fix: 'Nothing to do: the clients resume the session through the site.',
  },
  SESSION_OPEN_FAILED: {
    status: 502,
    fix: "Check that the target is reachable from the Jump Client's machine and that the Jump Client runs, then start the session again.",
  },
  SESSION_RESUME_EXPIRED: {
    status: 410,
    fix: 'Start a new session; the resume window has passed.',
  },
  SESSION_TICKET_USED: { status: 409, fix: 'Ask the site for a new session.' },
  SITE_UNREACHABLE: {
    status: 502,
    also: [504],
    fix: "Check that the name resolves (DNS or hosts file) to the site's primary appliance and that its TLS port is open.",
  },
  UPGRADE_NOT_SUPPORTED: {
    status: 400,
    fix: 'Connect with a Gatehouse client (console or Jump Client).',
  },
});
