import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import type { Appliance } from '../appliance/context.js';
import {
  proveAnswer,
  PEER_PROOF_HEADER,
  PEER_REQUEST_HEADER,
  verifyPeerRequest,
} from './peer-auth.js';

export interface PeerRequest {
  appliance: Appliance;
  /** The calling appliance's name (proven by the key, not by itself). */
  from: string;
  /** The JSON body, parsed (undefined when empty). */
  body: unknown;
  req: FastifyRequest;
  reply: FastifyReply;
}

/** One inter-appliance endpoint. A Readable result is streamed (blobs: checked by sha256). */
export interface PeerRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Under /api/peer, e.g. `/api/peer/sync/manifest`. */
  path: string;
  handler: (input: PeerRequest) => Promise<unknown> | unknown;
}

/**
 * Register inter-appliance endpoints in their own scope: the raw body is kept (it is part of
 * what the HMAC covers), every request is verified with this appliance's Inter-Appliance key
 * before its handler runs, and every JSON answer carries its proof.
 */
export async function registerPeerRoutes(
  app: FastifyInstance,
  appliance: Appliance,
  routes: PeerRoute[],
): Promise<void> {
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
          const key = appliance.interApplianceKey.get();
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
