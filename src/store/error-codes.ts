/**
 * The error codes of store/: HTTP status and fix of each. docs/errors.md is generated from
 * them; src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';

export const storeErrors = errorCatalogue({
  BLOB_BAD_DIGEST: { status: 400, fix: 'Give a sha256 digest: 64 hexadecimal characters.' },
  BLOB_DIGEST_MISMATCH: {
    status: 400,
    fix: 'Send the content again; it was altered or truncated in transit.',
  },
  BLOB_TOO_LARGE: { status: 413, fix: 'Upload a smaller file or raise the limit.' },
  STORE_SCHEMA_TOO_NEW: { status: 500, fix: 'Run the newer Gatehouse version that wrote it.' },
});
