import { describe, expect, it } from 'vitest';
import { HttpResponseError, ResponseDecoder } from './http1.js';

/** Decode `wire` pushed in pieces of `step` bytes (each piece a copy, as reads into one buffer). */
function decode(wire: string | Buffer, step: number, end = true) {
  const bytes = Buffer.isBuffer(wire) ? wire : Buffer.from(wire, 'latin1');
  const seen: { status?: number; headers?: Map<string, string>; body: Buffer[]; ended: boolean } = {
    body: [],
    ended: false,
  };
  const d = new ResponseDecoder({
    head(status, headers) {
      seen.status = status;
      seen.headers = headers;
    },
    body(part) {
      seen.body.push(Buffer.from(part));
    },
    end() {
      seen.ended = true;
    },
  });
  const scratch = Buffer.alloc(step);
  for (let at = 0; at < bytes.length; at += step) {
    // The same buffer for every piece: the decoder must not keep views of it.
    const n = bytes.copy(scratch, 0, at, at + step);
    d.push(scratch.subarray(0, n));
  }
  if (end) d.end();
  return { ...seen, text: Buffer.concat(seen.body).toString('latin1'), decoder: d };
}

describe('reading an HTTP/1.1 response pushed a piece at a time', () => {
  const body = 'x'.repeat(300) + 'end';
  const withLength = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const chunked =
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n' +
    `100;ext=1\r\n${body.slice(0, 256)}\r\n${(body.length - 256).toString(16)}\r\n${body.slice(256)}\r\n0\r\nX-Trailer: yes\r\n\r\n`;

  it('takes a Content-Length body, a chunked one and one ending with the connection, in pieces of any size', () => {
    for (const step of [1, 2, 3, 7, 64, 5000]) {
      const a = decode(withLength, step);
      expect(a.status).toBe(200);
      expect(a.headers?.get('content-type')).toBe('application/octet-stream');
      expect(a.text).toBe(body);
      expect(a.ended).toBe(true);
      const b = decode(chunked, step);
      expect(b.text).toBe(body);
      expect(b.ended).toBe(true);
      const c = decode(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${body}`, step);
      expect(c.text).toBe(body);
      expect(c.ended).toBe(true);
    }
  });

  it('ends at the length, and refuses bytes after the end of the answer', () => {
    const a = decode(withLength, 4096, false);
    expect(a.decoder.done).toBe(true);
    expect(() => a.decoder.push(Buffer.from('more'))).toThrow(HttpResponseError);
    const empty = decode('HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n', 9);
    expect(empty.status).toBe(204);
    expect(empty.ended).toBe(true);
  });

  it('says truncated when the connection ends early, before the head or inside the body', () => {
    expect(() => decode('HTTP/1.1 200 OK\r\nContent-Le', 5)).toThrow(/before the answer began/);
    expect(() => decode(withLength.slice(0, -10), 64)).toThrow(/in the middle of the answer/);
    expect(() => decode(chunked.slice(0, -5), 64)).toThrow(/in the middle of the answer/);
  });

  it('refuses what is not a well-formed answer, naming what is wrong', () => {
    expect(() => decode('SSH-2.0-OpenSSH_9.2\r\n\r\n', 64)).toThrow(/not an HTTP\/1.1 answer/);
    expect(() => decode('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 64)).toThrow(/bad header line/);
    expect(() => decode('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', 64)).toThrow(
      /unsupported transfer-encoding "gzip"/,
    );
    expect(() => decode('HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n', 64)).toThrow(
      /bad content-length/,
    );
    expect(() => decode('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 64)).toThrow(
      /bad chunk size "zz"/,
    );
    // A chunk with more bytes than its size said.
    expect(() =>
      decode('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n', 64),
    ).toThrow(/longer than its size/);
    // A head that never ends is refused at 64 KiB, not kept growing.
    expect(() => decode(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70 * 1024)}`, 8192, false)).toThrow(
      /head of the answer is too long/,
    );
  });
});
