import type { ErrorCatalogue } from '../shared/error-codes.js';

/** The error codes site/ throws: HTTP status and the fix (src/shared/error-codes.ts). */
export const SITE_ERRORS = {
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
} as const satisfies ErrorCatalogue;
