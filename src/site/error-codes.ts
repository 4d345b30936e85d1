/**
 * The error codes of site/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const siteErrors = errorCatalogue({
  CLIENT_TICKET_REVOKED: { status: 401, fix: 'Sign in to the site again.' },
  PASSWORD_TOO_WEAK: { status: 400, fix: 'Choose a longer password, as the message says.' },
  SITE_CA_INVALID: {
    status: 400,
    fix: 'Establish the relationship (or add the traffic node) again from the primary.',
  },
  USER_EXISTS: { status: 409, fix: 'Choose another username or edit that user.' },
  USER_LAST_ADMIN: { status: 409, fix: 'Make another user an administrator first.' },
  USER_SELF_DELETE: { status: 409, fix: 'Ask another administrator to do it.' },
  USER_SELF_DISABLE: { status: 409, fix: 'Ask another administrator to do it.' },
});
