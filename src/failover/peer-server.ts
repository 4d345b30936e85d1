import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import {
  proveAnswer,
  PEER_PROOF_HEADER,
  PEER_REQUEST_HEADER,
  verifyPeerRequest,
} from './peer-auth.js';

/** `appliance` is the serving appliance as the route's owner declares it (a narrow interface). */
export interface PeerRequest<C> {
  appliance: C;
  /** The calling appliance's name (proven by the key, not by itself). */
  from: string;
  /** The JSON body, parsed (undefined when empty). */
  body: unknown;
  req: FastifyRequest;
  reply: FastifyReply;
}

/** One inter-appliance endpoint. A Readable result is streamed (blobs: checked by sha256). */
export interface PeerRoute<C = never> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Under /api/peer, e.g. `/api/peer/sync/manifest`. */
  path: string;
  handler: (input: PeerRequest<C>) => Promise<unknown> | unknown;
}

/**
 * Register inter-appliance endpoints in their own scope: the raw body is kept (it is part of
 * what the HMAC covers), every request is verified with this appliance's Inter-Appliance key
 * before its handler runs, and every JSON answer carries its proof.
 */
export interface PeerHost<C> {
  /** What the routes receive as `appliance`. */
  context: C;
  /** This appliance's Inter-Appliance key: it verifies requests and proves answers. */
  interApplianceKey: () => string;
}

export async function registerPeerRoutes<C>(
  app: FastifyInstance,
  host: PeerHost<C>,
  routes: PeerRoute<C>[],
): Promise<void> {
  const appliance = host.context;
  await app.register(async (scope) => {
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) =>
      done(null, body),
    );
    for (const route of routes) {
      scope.route({
        method: route.method,
        url: route.path,
        handler: async (req, reply) => {
          const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          const key = host.interApplianceKey();
          const { from, nonce } = verifyPeerRequest(
            key,
            req.headers[PEER_REQUEST_HEADER] as string,
            {
              method: req.method,
              path: req.url,
              body: raw,
            },
          );
          const body = raw.length ? (JSON.parse(raw.toString('utf8')) as unknown) : undefined;
          const result = await route.handler({ appliance, from, body, req, reply });
          if (reply.sent) return reply;
          if (result instanceof Readable)
            return reply.type('application/octet-stream').send(result);
          const text = result === undefined ? '' : JSON.stringify(result);
          return reply
            .code(200)
            .header(PEER_PROOF_HEADER, proveAnswer(key, nonce, 200, text))
            .type('application/json')
            .send(text);
        },
      });
    }
  });
}
