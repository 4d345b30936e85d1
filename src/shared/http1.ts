/**
 * One HTTP/1.1 response read a chunk at a time, as it arrives, without copying its body: the
 * head (status and headers) is parsed once whole, then the body is handed on as views of the
 * chunks given, whether it is framed by Content-Length, chunked, or ends with the connection.
 * For a client that reads its socket into a buffer of its own (`onread`), where an HTTP library
 * would allocate a buffer per read.
 */
export interface ResponseHandler {
  head(status: number, headers: Map<string, string>): void;
  /** A view of bytes of the body, valid only during the call. */
  body(part: Buffer): void;
  end(): void;
}

/** What a response head may take up, and a chunk-size or trailer line. */
const MAX_HEAD = 64 * 1024;
const MAX_LINE = 4 * 1024;

export class HttpResponseError extends Error {}

type State = 'head' | 'length' | 'size' | 'data' | 'data-end' | 'trailer' | 'close' | 'done';

export class ResponseDecoder {
  private state: State = 'head';
  /** Bytes of the head, or of a chunk-size or trailer line, not yet complete. */
  private pending: Buffer = Buffer.alloc(0);
  /** Body bytes still to come in the current chunk, or of a Content-Length body. */
  private left = 0;

  constructor(private readonly on: ResponseHandler) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** The next bytes of the connection; throws HttpResponseError on a malformed response. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case 'head':
        case 'size':
        case 'trailer':
        case 'data-end': {
          const line = this.line(chunk, at);
          if (line === undefined) return;
          at = line.next;
          this.onLine(line.text);
          break;
        }
        case 'length':
        case 'data': {
          const n = Math.min(this.left, chunk.length - at);
          this.on.body(chunk.subarray(at, at + n));
          at += n;
          this.left -= n;
          if (this.left === 0) {
            if (this.state === 'length') this.finish();
            else this.state = 'data-end';
          }
          break;
        }
        case 'close':
          this.on.body(at === 0 ? chunk : chunk.subarray(at));
          return;
        case 'done':
          throw new HttpResponseError('the peer sent bytes after the end of its answer');
      }
    }
  }

  /** The connection ended: fine for a body that runs to the end, truncated otherwise. */
  end(): void {
    if (this.state === 'close') this.finish();
    if (this.state !== 'done')
      throw new HttpResponseError(
        this.state === 'head'
          ? 'the connection closed before the answer began'
          : 'the connection closed in the middle of the answer',
      );
  }

  /**
   * The head (up to its blank line) or the next line, from the bytes kept and `chunk`; undefined
   * while it is incomplete (its bytes are then copied: `chunk` may be a buffer read into again).
   */
  private line(chunk: Buffer, at: number): { text: string; next: number } | undefined {
    const end = this.state === 'head' ? '\r\n\r\n' : '\r\n';
    const limit = this.state === 'head' ? MAX_HEAD : MAX_LINE;
    const rest = chunk.subarray(at);
    const kept = this.pending.length;
    const joined = kept ? Buffer.concat([this.pending, rest.subarray(0, limit)]) : rest;
    const found = joined.indexOf(end);
    if (found < 0 || found > limit) {
      if (joined.length > limit)
        throw new HttpResponseError(
          this.state === 'head' ? 'the head of the answer is too long' : 'a chunk line is too long',
        );
      this.pending = Buffer.from(joined);
      return undefined;
    }
    this.pending = Buffer.alloc(0);
    return { text: joined.toString('latin1', 0, found), next: at + found + end.length - kept };
  }

  private onLine(text: string): void {
    if (this.state === 'head') return this.onHead(text);
    if (this.state === 'data-end') {
      if (text !== '') throw new HttpResponseError('a chunk is longer than its size said');
      this.state = 'size';
      return;
    }
    if (this.state === 'trailer') {
      if (text === '') this.finish();
      return;
    }
    const size = /^([0-9a-fA-F]{1,12})(;.*)?$/.exec(text);
    if (!size) throw new HttpResponseError(`bad chunk size "${text.slice(0, 40)}"`);
    this.left = parseInt(size[1]!, 16);
    this.state = this.left === 0 ? 'trailer' : 'data';
  }

  private onHead(text: string): void {
    const [statusLine, ...lines] = text.split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine ?? '');
    if (!status)
      throw new HttpResponseError(`not an HTTP/1.1 answer: "${statusLine?.slice(0, 40)}"`);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new HttpResponseError(`bad header line "${line.slice(0, 40)}"`);
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    this.on.head(Number(status[1]), headers);
    const encoding = headers.get('transfer-encoding');
    const length = headers.get('content-length');
    if (encoding !== undefined) {
      if (encoding.toLowerCase() !== 'chunked')
        throw new HttpResponseError(`unsupported transfer-encoding "${encoding}"`);
      this.state = 'size';
    } else if (length !== undefined) {
      if (!/^\d{1,15}$/.test(length)) throw new HttpResponseError(`bad content-length "${length}"`);
      this.left = Number(length);
      this.state = 'length';
      if (this.left === 0) this.finish();
    } else this.state = 'close';
  }

  private finish(): void {
    this.state = 'done';
    this.on.end();
  }
}
