/**
 * The error codes of monitoring/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const monitoringErrors = errorCatalogue({
  SCRAPE_TOKEN_EXISTS: { status: 409, fix: 'Revoke it first or choose another label.' },
  SCRAPE_TOKEN_INVALID: {
    status: 401,
    fix: 'An /appliance administrator creates one on /appliance > Monitoring (or `gatehouse appliance metrics-token create`).',
  },
  SCRAPE_TOKEN_NOT_FOUND: {
    status: 404,
    fix: 'List them with GET /api/appliance/monitoring/tokens.',
  },
});
