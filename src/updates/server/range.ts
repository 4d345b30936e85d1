import { updatesErrors } from '../error-codes.js';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * The byte range a `Range` header asks of a file of `size` bytes (RFC 9110 §14): null for the
 * whole file (no header, another unit, or several ranges, which a server may ignore), a 416
 * error when no byte of the range exists.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    // bytes=-N: the last N bytes.
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(header, size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null;
  }
  if (start >= size) throw unsatisfiable(header, size);
  return { start, end };
}

function unsatisfiable(header: string, size: number) {
  return updatesErrors.RANGE_NOT_SATISFIABLE(
    `Range "${header}" asks for bytes the package does not have (it has ${size}). Resume from a size below ${size}, or download the whole package again.`,
    { headers: { 'content-range': `bytes */${size}` } },
  );
}
