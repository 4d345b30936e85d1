/**
 * The error codes of shared/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from './errors.js';

export const sharedErrors = errorCatalogue({
  AUTH_THROTTLED: {
    status: 429,
    fix: 'Wait … s and try again, or sign in from a browser or address that signed in before. An administrator with shell access can lift this at once with `gatehouse appliance unlock`.',
  },
  CSRF_TOKEN_INVALID: {
    status: 403,
    fix: 'Send the csrfToken returned at sign-in (or use a bearer token).',
  },
  FORM_FIELD_REPEATED: { status: 400, fix: 'Send each form field once; nothing was changed.' },
  FORM_NOT_MULTIPART: {
    status: 400,
    fix: 'Send the form as multipart/form-data (the page does this itself).',
  },
  INTERNAL_ERROR: {
    status: 500,
    fix: 'Nothing was changed. The appliance log has the details (logs/appliance.log); try again, and report it if it repeats.',
  },
  LISTEN_FAILED: { status: 400, fix: 'Choose another address or port.' },
  NOT_FOUND: {
    status: 404,
    fix: 'Check the name or id the message gives; the list pages and GET endpoints show what exists.',
  },
  TLS_FINGERPRINT_MISMATCH: {
    status: 502,
    fix: 'Check the address, or re-pin if its certificate was replaced.',
  },
  VALIDATION_FAILED: {
    status: 400,
    fix: 'Correct each field named in the message (the API lists them in `errors`); nothing was changed.',
  },
});
