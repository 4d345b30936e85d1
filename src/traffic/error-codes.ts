import type { ErrorCatalogue } from '../shared/error-codes.js';

/** The error codes traffic/ throws: HTTP status and the fix (src/shared/error-codes.ts). */
export const TRAFFIC_ERRORS = {
  TRAFFIC_NOT_CONFIGURED: {
    status: 409,
    fix: 'Choose its method and settings under Networking > Traffic Switch first.',
  },
  TRAFFIC_NO_ADDRESS: {
    status: 409,
    fix: 'Add one under Networking > IP Configuration, or give the address.',
  },
} as const satisfies ErrorCatalogue;
