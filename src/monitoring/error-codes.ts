import type { ErrorCatalogue } from '../shared/error-codes.js';

/** The error codes monitoring/ throws: HTTP status and the fix (src/shared/error-codes.ts). */
export const MONITORING_ERRORS = {
  SCRAPE_TOKEN_EXISTS: { status: 409, fix: 'Revoke it first or choose another label.' },
  SCRAPE_TOKEN_INVALID: {
    status: 401,
    fix: 'An /appliance administrator creates one on /appliance > Monitoring (or `gatehouse appliance metrics-token create`).',
  },
  SCRAPE_TOKEN_NOT_FOUND: {
    status: 404,
    fix: 'List them with GET /api/appliance/monitoring/tokens.',
  },
} as const satisfies ErrorCatalogue;
