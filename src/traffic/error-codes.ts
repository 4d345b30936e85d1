/**
 * The error codes of traffic/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const trafficErrors = errorCatalogue({
  TRAFFIC_NOT_CONFIGURED: {
    status: 409,
    fix: 'Choose its method and settings under Networking > Traffic Switch first.',
  },
  TRAFFIC_NO_ADDRESS: {
    status: 409,
    fix: 'Add one under Networking > IP Configuration, or give the address.',
  },
});
