import { promises as fsp } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isGatehouseError } from '../shared/errors.js';
import { exists, writeFileAtomic } from '../shared/fs.js';
import { certificateFingerprint, loadOrCreateServerTls } from '../shared/tls.js';
import {
  PEER_PROOF_HEADER,
  PEER_REQUEST_HEADER,
  proveAnswer,
  verifyPeerRequest,
} from './peer-auth.js';
import {
  LeaseRequest,
  StatusRequest,
  WITNESS_LEASE_PATH,
  WITNESS_STATUS_PATH,
  WitnessLeases,
  type HeldLease,
} from './witness-leases.js';
import { failoverErrors } from './error-codes.js';
import { sharedErrors } from '../shared/error-codes.js';

export interface WitnessOptions {
  listen: { host: string; port: number };
  dataDir: string;
  /** The pair's Inter-Appliance key: requests are signed with it, answers proven. */
  key: () => string;
  log?: (line: string) => void;
}

export interface RunningWitness {
  address: { host: string; port: number };
  fingerprint: string;
  close(): Promise<void>;
}

const MAX_BODY = 4_096;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        reject(failoverErrors.WITNESS_BODY_TOO_LARGE('A lease request is tiny.'));
        req.destroy();
      } else parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/**
 * `gatehouse witness`: the third vote of a failover pair (docs/failover.md, "The witness").
 * It grants each pair's lease to one appliance at a time (src/failover/witness-leases.ts) over
 * HTTPS with a self-signed certificate the appliances pin; requests and answers carry the
 * Inter-Appliance key's HMAC as between appliances. Every grant to a new holder and every
 * refusal is logged with its reason; who holds each lease is kept on disk across restarts.
 */
export async function startWitness(opts: WitnessOptions): Promise<RunningWitness> {
  const log = opts.log ?? (() => undefined);
  const file = path.join(opts.dataDir, 'leases.json');
  await fsp.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const held = (await exists(file))
    ? (JSON.parse(await fsp.readFile(file, 'utf8')) as Record<string, HeldLease>)
    : {};
  const leases = new WitnessLeases(held, () => performance.now());
  const tls = await loadOrCreateServerTls(opts.dataDir, opts.listen.host, 'gatehouse-witness');
  let lastRefusal = '';
  // Writes one after another, each of the state when it starts: the last one kept is the newest.
  let writing = Promise.resolve();
  const persist = () =>
    (writing = writing
      .catch(() => undefined)
      .then(() => writeFileAtomic(file, JSON.stringify(leases.held()) + '\n', 0o600)));

  /** A lease request: granted, renewed or refused, kept on disk before the answer. */
  const lease = async (from: string, body: unknown) => {
    const parsed = LeaseRequest.safeParse(body);
    if (!parsed.success) throw sharedErrors.VALIDATION_FAILED(parsed.error.issues[0]!.message);
    const { changed, newHolder, ...answer } = leases.request(from, parsed.data);
    // On disk before the answer: a primary acknowledges changes alone only once this is kept.
    if (changed) await persist();
    if (newHolder)
      log(JSON.stringify({ at: new Date().toISOString(), event: 'granted', to: from, ...answer }));
    else if (!answer.granted && answer.reason !== lastRefusal)
      log(JSON.stringify({ at: new Date().toISOString(), event: 'refused', to: from, ...answer }));
    lastRefusal = answer.granted ? '' : (answer.reason ?? '');
    return answer;
  };
  const status = (from: string, body: unknown) => {
    const parsed = StatusRequest.safeParse(body);
    if (!parsed.success) throw sharedErrors.VALIDATION_FAILED(parsed.error.issues[0]!.message);
    if (!parsed.data.pair.includes(from))
      throw failoverErrors.WITNESS_NOT_OF_PAIR(
        `"${from}" is not one of the pair ${parsed.data.pair.join(' + ')}: only its appliances see its lease.`,
      );
    return leases.status(parsed.data.pair);
  };
  const routes: Record<string, (from: string, body: unknown) => unknown> = {
    [WITNESS_LEASE_PATH]: lease,
    [WITNESS_STATUS_PATH]: status,
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    const route = req.method === 'POST' ? routes[req.url ?? ''] : undefined;
    if (!route)
      throw failoverErrors.WITNESS_NOT_FOUND(
        `Use POST ${WITNESS_LEASE_PATH} or POST ${WITNESS_STATUS_PATH}.`,
      );
    const key = opts.key();
    const { from, nonce } = verifyPeerRequest(key, req.headers[PEER_REQUEST_HEADER] as string, {
      method: 'POST',
      path: req.url!,
      body: raw,
    });
    const text = JSON.stringify(await route(from, JSON.parse(raw.toString('utf8') || '{}')));
    res.writeHead(200, {
      'content-type': 'application/json',
      [PEER_PROOF_HEADER]: proveAnswer(key, nonce, 200, text),
    });
    res.end(text);
  };

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err = isGatehouseError(e)
        ? e
        : failoverErrors.WITNESS_FAILED(`The witness failed: ${String(e)}`);
      if (res.headersSent) return res.destroy();
      res.writeHead(err.status, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ code: err.code, status: err.status, detail: err.message }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => resolve());
  });
  return {
    address: { host: opts.listen.host, port: (server.address() as AddressInfo).port },
    fingerprint: certificateFingerprint(tls.cert),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
