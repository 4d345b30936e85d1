import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { GatehouseError } from '../../shared/errors.js';
import { exists, writeFileAtomic } from '../../shared/fs.js';
import { IpAddress, Port, trafficError } from '../switch-config.js';
import { sharedErrors } from '../../shared/error-codes.js';
import { trafficErrors } from '../error-codes.js';

/**
 * `gatehouse nat-forwarder`: the NAT swing for one machine. A TCP forwarder sends each new
 * connection to the current target; connections already made stay with the target they were
 * made to. The target is changed through a control API over HTTPS (a self-signed certificate
 * pinned by fingerprint, a bearer token) and survives restarts.
 */

export const ForwarderTarget = z.object({ address: IpAddress, port: Port });
export type ForwarderTarget = z.infer<typeof ForwarderTarget>;

export interface HostPort {
  host: string;
  port: number;
}

export interface NatForwarderOptions {
  listen: HostPort;
  control: HostPort;
  dataDir: string;
  /** The target to start with when none is stored yet. */
  initialTarget?: ForwarderTarget;
  log?: (line: string) => void;
}

export interface RunningForwarder {
  listen: HostPort;
  control: HostPort;
  fingerprint: string;
  /** The control token when it was made by this start (printed once), else undefined. */
  newToken: string | undefined;
  tokenFile: string;
  target(): ForwarderTarget | undefined;
  close(): Promise<void>;
}

const files = (dataDir: string) => ({
  token: path.join(dataDir, 'control-token'),
  target: path.join(dataDir, 'target.json'),
});

async function loadOrCreateToken(dataDir: string): Promise<{ token: string; created: boolean }> {
  const file = files(dataDir).token;
  if (await exists(file))
    return { token: (await fsp.readFile(file, 'utf8')).trim(), created: false };
  const token = randomBytes(32).toString('base64url');
  await writeFileAtomic(file, `${token}\n`, 0o600);
  return { token, created: true };
}

async function loadTarget(dataDir: string): Promise<ForwarderTarget | undefined> {
  const file = files(dataDir).target;
  if (!(await exists(file))) return undefined;
  const parsed = ForwarderTarget.safeParse(JSON.parse(await fsp.readFile(file, 'utf8')));
  if (!parsed.success)
    throw trafficError(
      trafficErrors.TRAFFIC_NAT_FORWARDER_STATE_DAMAGED,
      `${file} is damaged (${parsed.error.issues[0]?.message}); remove it and set the target again with PUT /target.`,
    );
  return parsed.data;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const problem = body instanceof GatehouseError;
  res.writeHead(status, {
    'content-type': problem ? 'application/problem+json' : 'application/json',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(JSON.stringify(problem ? body.toProblem() : body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4096)
      throw trafficError(
        trafficErrors.TRAFFIC_NAT_FORWARDER_BAD_REQUEST,
        'The request body is over 4 KiB.',
        {
          status: 413,
        },
      );
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw trafficError(
      trafficErrors.TRAFFIC_NAT_FORWARDER_BAD_REQUEST,
      'The body is not JSON; send {"address": "192.0.2.10", "port": 443}.',
    );
  }
}

function listen(server: net.Server, at: HostPort): Promise<HostPort> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve({ host: at.host, port: (server.address() as net.AddressInfo).port });
    });
  });
}

export async function startNatForwarder(opts: NatForwarderOptions): Promise<RunningForwarder> {
  const log = opts.log ?? (() => undefined);
  const initial = ForwarderTarget.safeParse(opts.initialTarget);
  if (opts.initialTarget && !initial.success)
    throw trafficError(
      trafficErrors.TRAFFIC_NAT_FORWARDER_BAD_TARGET,
      `target: ${initial.error.issues[0]?.message ?? 'is not valid'} (give ADDRESS:PORT, e.g. 192.0.2.11:443)`,
      { field: 'target' },
    );
  await fsp.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const { loadOrCreateServerTls } = await import('../../shared/tls.js');
  const tls = await loadOrCreateServerTls(
    opts.dataDir,
    opts.control.host,
    'gatehouse-nat-forwarder',
  );
  const { token, created } = await loadOrCreateToken(opts.dataDir);
  const tokenDigest = digest(token);
  let target = (await loadTarget(opts.dataDir)) ?? initial.data;

  const open = new Set<net.Socket>();
  const forwarder = net.createServer((client) => {
    const to = target;
    if (!to) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: to.address, port: to.port });
    open.add(client);
    const close = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  const authorised = (req: IncomingMessage) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return m !== null && timingSafeEqual(digest(m[1]!.trim()), tokenDigest);
  };

  const control = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    void (async () => {
      if (!authorised(req))
        return send(
          res,
          401,
          trafficError(
            trafficErrors.TRAFFIC_NAT_FORWARDER_UNAUTHORIZED,
            'token: the control token is missing or wrong; send the token the forwarder printed at its first start (also in control-token in its data directory) as a bearer token.',
            { field: 'token' },
          ),
          { 'www-authenticate': 'Bearer' },
        );
      const url = new URL(req.url ?? '/', 'https://forwarder');
      if (url.pathname !== '/target')
        return send(
          res,
          404,
          trafficError(trafficErrors.TRAFFIC_NAT_FORWARDER_NOT_FOUND, 'Use /target.'),
        );
      if (req.method === 'GET') return send(res, 200, { target: target ?? null });
      if (req.method !== 'PUT')
        return send(
          res,
          405,
          trafficError(trafficErrors.TRAFFIC_NAT_FORWARDER_METHOD, 'Use GET or PUT on /target.'),
          { allow: 'GET, PUT' },
        );
      const parsed = ForwarderTarget.safeParse(await readJson(req));
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = issue.path.join('.') || 'target';
        return send(
          res,
          400,
          sharedErrors.VALIDATION_FAILED(`${field}: ${issue.message}`, {
            fields: parsed.error.issues.map((i) => ({
              field: i.path.join('.'),
              message: i.message,
            })),
          }),
        );
      }
      await writeFileAtomic(files(opts.dataDir).target, JSON.stringify(parsed.data) + '\n', 0o600);
      const from = target;
      target = parsed.data;
      log(
        JSON.stringify({
          event: 'target-changed',
          from: from ?? null,
          to: target,
          by: req.socket.remoteAddress,
        }),
      );
      send(res, 200, { target });
    })().catch((e: unknown) =>
      send(
        res,
        e instanceof GatehouseError ? e.status : 500,
        e instanceof GatehouseError
          ? e
          : trafficError(
              trafficErrors.TRAFFIC_NAT_FORWARDER_FAILED,
              `The change failed: ${(e as Error).message}`,
            ),
      ),
    );
  });

  const listenAt = await listen(forwarder, opts.listen);
  let controlAt: HostPort;
  try {
    controlAt = await listen(control, opts.control);
  } catch (e) {
    forwarder.close();
    throw e;
  }
  const { certificateFingerprint } = await import('../../shared/tls.js');
  return {
    listen: listenAt,
    control: controlAt,
    fingerprint: certificateFingerprint(tls.cert),
    newToken: created ? token : undefined,
    tokenFile: files(opts.dataDir).token,
    target: () => target,
    close: async () => {
      control.closeAllConnections();
      for (const socket of open) socket.destroy();
      await Promise.all([
        new Promise((r) => forwarder.close(r)),
        new Promise((r) => control.close(r)),
      ]);
    },
  };
}
