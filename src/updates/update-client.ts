import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { pinnedConnector } from '../shared/pinned-tls.js';
import { colonHex } from '../shared/crypto.js';
import { GatehouseError, isGatehouseError } from '../shared/errors.js';
import { fsyncPath } from '../shared/fs.js';
import { APPLIANCE_AUTH_SCHEME } from './download-key.js';
import { updatesErrors } from './error-codes.js';

export const AvailablePackage = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/),
  kind: z.enum(['base', 'product']),
  version: z.string(),
  requires: z.object({ base: z.string().optional() }),
  size: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  releaseNotes: z.string(),
  createdAt: z.string(),
  url: z.string(),
});
export type AvailablePackage = z.infer<typeof AvailablePackage>;

const CheckAnswer = z.object({ appliance: z.string(), available: z.array(AvailablePackage) });

export interface UpdateServerClientOptions {
  url: string;
  /** SHA-256 fingerprint of the update server's certificate (AB:CD:… or plain hex). */
  fingerprint: string;
  /** A fresh short-lived Appliance Download Key for each request. */
  token: () => string;
}

/** Normalise a fingerprint to the AB:CD:… form TLS sockets report. */
function normaliseFingerprint(fingerprint: string): string {
  const hex = fingerprint.replace(/[^0-9a-fA-F]/g, '');
  if (hex.length !== 64)
    throw updatesErrors.UPDATE_SERVER_FINGERPRINT_INVALID(
      'fingerprint: must be the SHA-256 fingerprint of the update server certificate (64 hex digits, e.g. AB:CD:…), as `gatehouse update-server start` prints it.',
      { fields: [{ field: 'fingerprint', message: 'must be 64 hex digits' }] },
    );
  return colonHex(hex);
}

/**
 * The appliance's side of the update server (S8): check for updates and download packages. It
 * trusts exactly the server certificate with the configured fingerprint, never the system CAs,
 * and authenticates every request with a short-lived download key.
 */
export class UpdateServerClient {
  private readonly agent: Agent;
  private readonly base: URL;
  private readonly fingerprint: string;

  constructor(private readonly opts: UpdateServerClientOptions) {
    try {
      this.base = new URL(opts.url);
    } catch {
      this.base = new URL('invalid:');
    }
    if (this.base.protocol !== 'https:')
      throw updatesErrors.UPDATE_SERVER_URL_INVALID(
        `url: "${opts.url}" is not an https:// URL. Give the address the update server prints at start, e.g. https://updates.example.com:8444.`,
        { fields: [{ field: 'url', message: 'must be an https:// URL' }] },
      );
    this.fingerprint = normaliseFingerprint(opts.fingerprint);
    this.agent = new Agent({ connect: pinnedConnector(this.fingerprint), connections: 4 });
  }

  /**
   * The packages this appliance may install, in install order. A registration token from the
   * server's operator enrols this appliance's key first (needed once).
   */
  async check(registrationToken?: string): Promise<AvailablePackage[]> {
    const res = await this.send(
      'POST',
      '/api/v1/check',
      { 'content-type': 'application/json' },
      JSON.stringify(registrationToken ? { registrationToken } : {}),
    );
    if (res.statusCode !== 200) throw await this.failure(res);
    const parsed = CheckAnswer.safeParse(await this.json(res));
    if (!parsed.success) throw this.protocolError('its answer to a check for updates is malformed');
    return parsed.data.available;
  }

  /**
   * Download a package to `destFile`: into `destFile.part`, resuming from its size after an
   * interruption; the whole file's sha256 must be the package's before it is renamed into place.
   */
  async download(
    pkg: AvailablePackage,
    destFile: string,
    onProgress?: (received: number, total: number) => void,
  ): Promise<void> {
    const part = `${destFile}.part`;
    await fsp.mkdir(path.dirname(destFile), { recursive: true });
    let have = await sizeOf(part);
    if (have > pkg.size) {
      await fsp.rm(part, { force: true });
      have = 0;
    }
    if (have < pkg.size) await this.fetchFrom(pkg, part, have, onProgress);
    const digest = await sha256Of(part);
    if (digest !== pkg.sha256) {
      await fsp.rm(part, { force: true });
      throw updatesErrors.UPDATE_DOWNLOAD_CORRUPT(
        `The downloaded ${pkg.kind} package ${pkg.version} has sha256 ${digest}, not ${pkg.sha256}: it was damaged on the way or on the update server's disk. The file was removed and it does not count as downloaded: download it again. If it is refused again, the update server's copy is damaged: its operator runs \`gatehouse update-server verify\` and publishes the good file again.`,
      );
    }
    await fsp.rename(part, destFile);
    await fsyncPath(path.dirname(destFile));
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async fetchFrom(
    pkg: AvailablePackage,
    part: string,
    from: number,
    onProgress?: (received: number, total: number) => void,
  ): Promise<void> {
    // Always a range: within the server's resume grace, a download refused here (damaged on the
    // way) may then be fetched again from byte 0 without the operator (S11).
    const res = await this.send('GET', pkg.url, { range: `bytes=${from}-` });
    let offset: number;
    if (res.statusCode === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
      if (!m || Number(m[1]) !== from || Number(m[3]) !== pkg.size) {
        res.body.destroy();
        throw this.protocolError(`it answered a resume from byte ${from} with another range`);
      }
      offset = from;
    } else if (res.statusCode === 200) offset = 0;
    else throw await this.failure(res);
    let received = offset;
    onProgress?.(received, pkg.size);
    const progress = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        onProgress?.(received, pkg.size);
        done(null, chunk);
      },
    });
    let complete = false;
    try {
      await pipeline(
        res.body,
        progress,
        createWriteStream(part, { flags: offset === 0 ? 'w' : 'a', mode: 0o600 }),
      );
      complete = true;
    } catch (e) {
      throw updatesErrors.UPDATE_DOWNLOAD_INTERRUPTED(
        `The download of ${pkg.kind} package ${pkg.version} from ${this.base.origin} was interrupted after ${received} of ${pkg.size} bytes (${errorText(e)}). Download again: it resumes where it stopped.`,
        { cause: e },
      );
    } finally {
      // What was received is on disk before it counts (a resume trusts the .part's size). A
      // .part gone meanwhile has nothing to sync, and a failed sync never hides why the
      // download failed (the error thrown above).
      await fsyncPath(part).catch((e: NodeJS.ErrnoException) => {
        if (complete && e.code !== 'ENOENT') throw e;
      });
    }
  }

  private async send(
    method: 'GET' | 'POST',
    pathOrUrl: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<Dispatcher.ResponseData> {
    const url = new URL(pathOrUrl, this.base);
    if (url.origin !== this.base.origin)
      throw this.protocolError(`it pointed a download at another server (${url.origin})`);
    try {
      return await request(url, {
        method,
        headers: {
          accept: 'application/json',
          authorization: `${APPLIANCE_AUTH_SCHEME} ${this.opts.token()}`,
          ...headers,
        },
        body,
        dispatcher: this.agent,
      });
    } catch (e) {
      throw this.connectionError(e);
    }
  }

  private connectionError(e: unknown): GatehouseError {
    if (
      (isGatehouseError(e) && e.code === 'TLS_FINGERPRINT_MISMATCH') ||
      /not the pinned/.test(errorText(e))
    ) {
      return updatesErrors.UPDATE_SERVER_CERT_MISMATCH(
        `The update server at ${this.base.origin} presented a certificate that is not the pinned one (${this.fingerprint}). Check the update server address; if its certificate was replaced, set the fingerprint it prints at start.`,
        { cause: e },
      );
    }
    return updatesErrors.UPDATE_SERVER_UNREACHABLE(
      `The update server at ${this.base.origin} cannot be reached (${errorText(e)}). Check its address and that it is running; an appliance without access to it can be updated with an Appliance Download Key (manual update).`,
      { cause: e },
    );
  }

  private protocolError(what: string): GatehouseError {
    return updatesErrors.UPDATE_SERVER_PROTOCOL(
      `The update server at ${this.base.origin} did not answer as an update server: ${what}. Check the update server address.`,
    );
  }

  private async json(res: Dispatcher.ResponseData): Promise<unknown> {
    try {
      return await res.body.json();
    } catch {
      return undefined;
    }
  }

  /** An error answer of the server, kept with its code and message (it says what to do). */
  private async failure(res: Dispatcher.ResponseData): Promise<GatehouseError> {
    const problem = (await this.json(res)) as { code?: unknown; detail?: unknown } | undefined;
    if (typeof problem?.code === 'string' && typeof problem.detail === 'string')
      // The appliance's own request was fine: the failure is upstream, hence 502.
      return new GatehouseError(problem.code, 502, problem.detail);
    return updatesErrors.UPDATE_SERVER_ERROR(
      `The update server at ${this.base.origin} answered HTTP ${res.statusCode}. Try again later; its log says why.`,
    );
  }
}

function errorText(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  return err?.cause?.code ?? err?.code ?? err?.cause?.message ?? err?.message ?? String(e);
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return 0;
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
