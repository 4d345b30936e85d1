import type { ErrorCatalogue } from '../shared/error-codes.js';

/** The error codes store/ throws: HTTP status and the fix (src/shared/error-codes.ts). */
export const STORE_ERRORS = {
  BLOB_BAD_DIGEST: { status: 400, fix: 'Give a sha256 digest: 64 hexadecimal characters.' },
  BLOB_DIGEST_MISMATCH: {
    status: 400,
    fix: 'Send the content again; it was altered or truncated in transit.',
  },
  BLOB_TOO_LARGE: { status: 413, fix: 'Upload a smaller file or raise the limit.' },
  STORE_SCHEMA_TOO_NEW: { status: 500, fix: 'Run the newer Gatehouse version that wrote it.' },
} as const satisfies ErrorCatalogue;
