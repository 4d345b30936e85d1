import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z, type ZodType } from 'zod';
import type { Actor } from '../actor.js';
import { validationError } from '../errors.js';

/** The two signed-in areas: /appliance (the appliance's own administrators) and /login (the site's). */
export type Area = 'appliance' | 'login';

export interface AuthSession {
  /** The sha256 of the session token: names the session without being a credential. */
  id: string;
  area: Area;
  principal: string;
  csrfToken: string;
  expiresAt: number;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * What a handler receives. `appliance` is the appliance as the operation's owner sees it: the
 * whole context for operations wired in src/appliance/, a narrow interface for a domain's own.
 */
export interface OperationInput<B, Q, P, C> {
  body: B;
  query: Q;
  params: P;
  auth: AuthSession | null;
  actor: Actor;
  appliance: C;
  req: FastifyRequest;
  reply: FastifyReply;
}

/**
 * One API operation: its route, who may call it, the zod schemas of its input and the text of
 * its documentation. The same definition registers the route, validates requests and writes
 * the OpenAPI document, so the three cannot drift apart.
 */
export interface Operation<B = unknown, Q = unknown, P = unknown, C = never> {
  id: string;
  method: Method;
  path: string;
  area: Area | 'public';
  /** A public route that checks a client ticket itself (src/sessions/tickets.ts), before its input. */
  clientTicket?: (appliance: C, req: FastifyRequest) => void;
  summary: string;
  tag: string;
  body?: ZodType<B>;
  query?: ZodType<Q>;
  params?: ZodType<P>;
  /** A raw (streamed) request body instead of JSON, e.g. a file upload. */
  rawBody?: { contentType: string; description: string };
  response: { status: number; description: string; schema?: ZodType; contentType?: string };
  handler: (input: OperationInput<B, Q, P, C>) => Promise<unknown> | unknown;
}

/** Any operation, whatever its context: what the route table and the OpenAPI document read. */
export type AnyOperation = Operation<unknown, unknown, unknown, never>;

/** What the operations of one group share: who may call them and their OpenAPI tag. */
export interface OperationGroup {
  area: Area | 'public';
  tag: string;
}

/** An operation's method and path as one string: `'PUT /api/login/failover/automatic'`. */
export type Route = `${Method} /${string}`;

/** What a declaration names itself; its group gives the rest. */
export type OperationFields<B, Q, P, C> = Omit<
  Operation<B, Q, P, C>,
  'id' | 'method' | 'path' | 'area' | 'tag'
>;

/**
 * The declarer of one group of operations of one context:
 * `const op = operationsOf<FailoverSite>({ area: 'login', tag: 'failover' })`, then
 * `op('breakFailover', 'POST /api/login/failover/break', { summary, response, handler })`.
 * Each declaration keeps its own input types; the list of them shares the context.
 */
export function operationsOf<C>(group: OperationGroup) {
  return <B = undefined, Q = undefined, P = undefined>(
    id: string,
    route: Route,
    fields: OperationFields<B, Q, P, C>,
  ): Operation<unknown, unknown, unknown, C> => {
    const space = route.indexOf(' ');
    const op: Operation<B, Q, P, C> = {
      id,
      method: route.slice(0, space) as Method,
      path: route.slice(space + 1),
      ...group,
      ...fields,
    };
    return op as unknown as Operation<unknown, unknown, unknown, C>;
  };
}

/** How the server that registers operations checks sessions and reaches their context. */
export interface OperationHost<C> {
  context: C;
  /** The session of `area` the request carries, or throws AUTH_REQUIRED/CSRF_TOKEN_INVALID. */
  authenticate: (area: Area, req: FastifyRequest) => AuthSession;
}

/** Turn zod issues into field errors that name the field and say what to do. */
export function parseInput<T>(schema: ZodType<T>, value: unknown, prefix: string): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw validationError(
    result.error.issues.map((issue) => {
      const field = issue.path.length ? issue.path.join('.') : prefix;
      let message = issue.message;
      if (issue.code === 'unrecognized_keys') {
        return {
          field: issue.keys.join(', '),
          message: `not a known field here; remove it (known fields are listed in /api/openapi.json)`,
        };
      }
      if (issue.code === 'invalid_type' && /received undefined/.test(message))
        message = 'is required';
      return { field, message };
    }),
  );
}

/**
 * A hook the owner of some routes declares on them, where they are registered: a rule of when
 * they answer (e.g. "a failover backup accepts no site changes"), not a global URL pattern.
 */
export type RouteGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** The Fastify route option of a guard, when there is one. */
export const guardedBy = (guard: RouteGuard | undefined) => (guard ? { onRequest: guard } : {});

export function registerOperations<C>(
  app: FastifyInstance,
  host: OperationHost<C>,
  ops: Operation<unknown, unknown, unknown, C>[],
  guard?: RouteGuard,
): void {
  const appliance = host.context;
  for (const op of ops) {
    app.route({
      method: op.method,
      url: op.path,
      ...guardedBy(guard),
      handler: async (req, reply) => {
        const auth = op.area === 'public' ? null : host.authenticate(op.area, req);
        op.clientTicket?.(appliance, req);
        const actor: Actor = auth
          ? { area: auth.area, name: auth.principal, ip: req.ip }
          : { area: op.area === 'public' ? 'login' : op.area, name: 'anonymous', ip: req.ip };
        const input = {
          body: op.body ? parseInput(op.body, req.body, 'body') : req.body,
          query: op.query ? parseInput(op.query, req.query, 'query') : undefined,
          params: op.params ? parseInput(op.params, req.params, 'path') : undefined,
          auth,
          actor,
          appliance,
          req,
          reply,
        };
        const result = await op.handler(input);
        if (reply.sent) return reply;
        reply.code(op.response.status);
        if (result === undefined) return reply.send();
        return result;
      },
    });
  }
}

const jsonSchema = (schema: ZodType, io: 'input' | 'output') => {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
};

/** The OpenAPI 3.1 document of every operation. */
export function openApiDocument(ops: AnyOperation[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of ops) {
    const path = op.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    if (op.params) {
      const shape = jsonSchema(op.params, 'input') as { properties?: Record<string, unknown> };
      for (const [name, schema] of Object.entries(shape.properties ?? {}))
        parameters.push({ name, in: 'path', required: true, schema });
    }
    if (op.query) {
      const shape = jsonSchema(op.query, 'input') as {
        properties?: Record<string, unknown>;
        required?: string[];
      };
      for (const [name, schema] of Object.entries(shape.properties ?? {})) {
        parameters.push({
          name,
          in: 'query',
          required: shape.required?.includes(name) ?? false,
          schema,
        });
      }
    }
    const requestBody = op.body
      ? {
          required: true,
          content: { 'application/json': { schema: jsonSchema(op.body, 'input') } },
        }
      : op.rawBody
        ? {
            required: true,
            description: op.rawBody.description,
            content: { [op.rawBody.contentType]: { schema: { type: 'string', format: 'binary' } } },
          }
        : undefined;
    const ok = op.response.schema
      ? {
          description: op.response.description,
          content: {
            [op.response.contentType ?? 'application/json']: {
              schema: jsonSchema(op.response.schema, 'output'),
            },
          },
        }
      : op.response.contentType
        ? {
            description: op.response.description,
            content: {
              [op.response.contentType]: { schema: { type: 'string', format: 'binary' } },
            },
          }
        : { description: op.response.description };
    (paths[path] ??= {})[op.method.toLowerCase()] = {
      operationId: op.id,
      summary: op.summary,
      tags: [op.tag],
      security: op.clientTicket
        ? [{ clientTicket: [] }]
        : op.area === 'public'
          ? []
          : [{ [`${op.area}Bearer`]: [] }, { [`${op.area}Cookie`]: [] }],
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses: {
        [op.response.status]: ok,
        default: {
          description: 'An error, as RFC 9457 problem+json with a stable `code`',
          content: {
            'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
          },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse appliance API',
      version,
      description:
        'Administration API of one Gatehouse appliance. Sign in with POST /api/{area}/session to get a bearer token; the /appliance and /login areas have separate accounts.',
    },
    paths,
    components: {
      securitySchemes: {
        clientTicket: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A client ticket from POST /api/client/console/sign-in or /api/client/jump-clients/register',
        },
        applianceBearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Token from POST /api/appliance/session',
        },
        applianceCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: '__Host-gh-appliance',
          description: 'Browser session; unsafe methods also need the x-csrf-token header',
        },
        loginBearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Token from POST /api/login/session',
        },
        loginCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: '__Host-gh-login',
          description: 'Browser session; unsafe methods also need the x-csrf-token header',
        },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'code', 'detail'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            code: { type: 'string', description: 'Stable error code, e.g. VALIDATION_FAILED' },
            detail: { type: 'string', description: 'What went wrong and what to do' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                properties: { field: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  };
}
