/**
 * The blob records the store and its I/O worker and fetcher pass between them, apart from
 * blobs.ts so that blob-io.ts and blob-fetch.ts need not import the store that uses them.
 */
export interface BlobInfo {
  sha256: string;
  size: number;
}

/** A blob written to a file in tmp/, not yet moved into place. */
export type TmpBlob = BlobInfo & { tmp: string };
