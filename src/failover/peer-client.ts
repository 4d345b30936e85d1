import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { GatehouseError, type Problem } from '../shared/errors.js';
import { fingerprintMismatch, pinnedConnector } from '../shared/pinned-tls.js';
import type { BlobFetch, FetchFailure } from '../store/blob-fetch.js';
import {
  checkAnswer,
  PEER_PROOF_HEADER,
  PEER_REQUEST_HEADER,
  signPeerRequest,
} from './peer-auth.js';
import { failoverErrors } from './error-codes.js';

/** Where a peer appliance is reached: host or IP and its TLS port. */
export interface PeerAddress {
  host: string;
  port: number;
}

export const peerLabel = (a: PeerAddress) =>
  `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

/**
 * Read the certificate fingerprint a peer presents, without trusting it yet: shown to the
 * administrator when a relationship is established, then pinned.
 */
export function fetchPeerFingerprint(addr: PeerAddress, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: addr.host,
      port: addr.port,
      rejectUnauthorized: false,
      servername: undefined,
      timeout: timeoutMs,
    });
    const fail = (why: string) => {
      socket.destroy();
      reject(
        failoverErrors.FAILOVER_PEER_UNREACHABLE(
          `No appliance answers TLS at ${peerLabel(addr)} (${why}). Check the host and the TLS port (the one its web console uses), and that it is running.`,
        ),
      );
    };
    socket.once('secureConnect', () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      if (fp) resolve(fp);
      else fail('it presented no certificate');
    });
    socket.once('timeout', () => fail(`no answer within ${timeoutMs / 1000} s`));
    socket.once('error', (e: NodeJS.ErrnoException) =>
      fail(e.code === 'ECONNREFUSED' ? 'connection refused: wrong port?' : (e.code ?? e.message)),
    );
  });
}

/**
 * A client of another appliance's inter-appliance endpoints (`/api/peer/*`): TLS pinned to
 * the peer's certificate, every request signed and every answer checked with the
 * Inter-Appliance key (src/failover/peer-auth.ts).
 */
export class PeerClient {
  private readonly agent: Agent;
  readonly label: string;

  constructor(
    readonly address: PeerAddress,
    readonly fingerprint: string,
    private readonly key: () => string,
    private readonly from: string,
  ) {
    this.label = peerLabel(address);
    this.agent = new Agent({ connect: pinnedConnector(fingerprint), connections: 4 });
  }

  private url(path: string) {
    return `https://${this.label}${path}`;
  }

  /**
   * A signed JSON call; the answer must prove the peer holds the same key. `timeoutMs` bounds
   * the whole call (a short status poll must not wait on a hung peer for undici's 300 s); calls
   * that legitimately take long (a sync, a package fetch) pass none.
   */
  async call<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    json?: unknown,
    timeoutMs?: number,
  ): Promise<T> {
    const body = json === undefined ? '' : JSON.stringify(json);
    const key = this.key();
    const signed = signPeerRequest(key, this.from, { method, path, body });
    const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    let res;
    let text;
    try {
      res = await request(this.url(path), {
        method,
        headers: {
          [PEER_REQUEST_HEADER]: signed.header,
          accept: 'application/json',
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body || undefined,
        dispatcher: this.agent,
        signal,
      });
      text = await res.body.text();
    } catch (e) {
      throw this.unreachable(signal?.aborted ? { code: `no answer within ${timeoutMs} ms` } : e);
    }
    if (res.statusCode >= 400) throw this.peerError(res.statusCode, text);
    const proof = res.headers[PEER_PROOF_HEADER];
    checkAnswer(
      key,
      signed.nonce,
      res.statusCode,
      text,
      Array.isArray(proof) ? proof[0] : proof,
      this.label,
    );
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A signed GET whose answer is streamed (blobs: the caller checks their sha256). */
  async stream(path: string): Promise<Readable> {
    const signed = signPeerRequest(this.key(), this.from, { method: 'GET', path, body: '' });
    let res;
    try {
      res = await request(this.url(path), {
        method: 'GET',
        headers: { [PEER_REQUEST_HEADER]: signed.header },
        dispatcher: this.agent,
      });
    } catch (e) {
      throw this.unreachable(e);
    }
    if (res.statusCode >= 400) throw this.peerError(res.statusCode, await res.body.text());
    return res.body;
  }

  /**
   * A signed GET for another thread to send on a connection of its own (see `BlobIo.fetch`):
   * where to connect, the certificate to pin and the whole request. Word its failures with
   * `fetchFailed`.
   */
  prepareGet(path: string): BlobFetch {
    const signed = signPeerRequest(this.key(), this.from, { method: 'GET', path, body: '' });
    return {
      host: this.address.host,
      port: this.address.port,
      fingerprint: this.fingerprint,
      request: [
        `GET ${path} HTTP/1.1`,
        `Host: ${this.label}`,
        `${PEER_REQUEST_HEADER}: ${signed.header}`,
        'Connection: close',
        '',
        '',
      ].join('\r\n'),
    };
  }

  /** The error for a failed `prepareGet` request, as `call` and `stream` word theirs. */
  fetchFailed(f: Exclude<FetchFailure, { kind: 'mismatch' }>): GatehouseError {
    switch (f.kind) {
      case 'unreachable':
        return this.unreachable({ code: f.code });
      case 'certificate':
        return fingerprintMismatch(this.label, f.presented, this.fingerprint);
      case 'refused':
        return this.peerError(f.status, f.body);
      case 'stream':
        return failoverErrors.SYNC_BLOB_STREAM(
          `The blobs from ${this.label} arrived truncated or out of order (${f.why}). Sync again; if it persists, check the network between the appliances.`,
        );
    }
  }

  private unreachable(e: unknown): GatehouseError {
    if (e instanceof GatehouseError) return e;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return failoverErrors.FAILOVER_PEER_UNREACHABLE(
      `The peer appliance at ${this.label} cannot be reached (${code}). Check that it runs and that this appliance can reach that address and TLS port.`,
    );
  }

  private peerError(status: number, text: string): GatehouseError {
    let p: Partial<Problem> = {};
    try {
      p = JSON.parse(text) as Partial<Problem>;
    } catch {
      // not a problem document
    }
    return new GatehouseError(
      p.code ?? `PEER_HTTP_${status}`,
      status === 401 || status === 409 ? status : 502,
      `The peer appliance at ${this.label} refused: ${p.detail ?? `HTTP ${status}`}`,
      { fields: p.errors ?? [] },
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
