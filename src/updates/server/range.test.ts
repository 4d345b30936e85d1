import { describe, expect, it } from 'vitest';
import { parseRange } from './range.js';

describe('Range header of a package download', () => {
  it('serves the whole file without a usable single byte range', () => {
    expect(parseRange(undefined, 100)).toBeNull();
    expect(parseRange('items=0-5', 100)).toBeNull();
    expect(parseRange('bytes=0-5,10-20', 100)).toBeNull();
    expect(parseRange('bytes=9-3', 100)).toBeNull();
  });

  it('resumes from a byte, serves a span or the last bytes, clamped to the file', () => {
    expect(parseRange('bytes=40-', 100)).toEqual({ start: 40, end: 99 });
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-500', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 });
  });

  it('answers 416 with the size when no byte of the range exists', () => {
    for (const header of ['bytes=100-', 'bytes=150-200', 'bytes=-0']) {
      try {
        parseRange(header, 100);
        expect.unreachable(header);
      } catch (e) {
        expect(e).toMatchObject({
          code: 'RANGE_NOT_SATISFIABLE',
          status: 416,
          headers: { 'content-range': 'bytes */100' },
        });
      }
    }
  });
});
