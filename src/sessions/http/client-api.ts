import { randomUUID } from 'node:crypto';
import { z } from 'zod';

import { SESSION_KEY_MS } from '../customer-keys.js';
import { JumpClientName } from '../enrolment-tokens.js';
import { TargetAddress } from '../protocol.js';
import { issueTicket } from '../tickets.js';
import { operationsOf, type Operation } from '../../shared/http/operations.js';
import {
  newerClient,
  requireSite,
  site,
  ticketOf,
  Version,
  type ClientSite,
} from './client-site.js';
import { sessionsErrors } from '../error-codes.js';

type ClientOperation = Operation<unknown, unknown, unknown, ClientSite>;
const clientOp = operationsOf<ClientSite>({ area: 'public', tag: 'clients' });
const loginOp = operationsOf<ClientSite>({ area: 'login', tag: 'login' });

const CONSOLE_TICKET_MS = 12 * 3600_000;
/** A customer client stays this long at most; then its customer asks for a new session key. */
const CUSTOMER_TICKET_MS = 12 * 3600_000;
const SESSION_TICKET_MS = 60_000;
/** A session record's id: the session's, or `<session>.<part>` for a resumed part (part ≥ 2). */
const SessionRecordId = z
  .string()
  .regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.[1-9][0-9]{0,5})?$/i,
    'must be a session id (or a session id and a part number, <id>.<n>)',
  );

/** Who a console ticket stands for: the user's id and ticket generation (see users.ts). */
const ticketHolder = (u: { id: string; ticketGeneration: number }) => ({
  uid: u.id,
  gen: u.ticketGeneration,
});

/** A customer client that joined with another representative's session key. */
const othersCustomer = (j: { kind: string; representative?: string }, user: string) =>
  j.kind === 'customer-client' && j.representative !== user;

/**
 * The site's API for clients: sign-in of consoles, registration of Jump Clients, session
 * tickets and recordings. Clients authenticate with tickets (src/sessions/tickets.ts), which
 * every appliance of the site can check.
 */
export const clientOperations: ClientOperation[] = [
  clientOp('consoleSignIn', 'POST /api/client/console/sign-in', {
    summary: 'Representative console sign-in with a site user; returns a console ticket',
    body: z
      .object({
        username: z.string({ message: 'is required' }).min(1, 'is required').max(64),
        password: z.string({ message: 'is required' }).min(1, 'is required').max(256),
        version: Version,
        region: z.string().max(64).optional(),
      })
      .strict(),
    response: { status: 201, description: 'Signed in' },
    handler: async ({ appliance, body, req }) => {
      requireSite(appliance, 'representative-console');
      newerClient(appliance, body.version);
      // Read before the password is checked: a change after it gives a ticket already revoked.
      const account = appliance.users.find(body.username);
      const user = await appliance.auth.checkCredentials(
        'login',
        body.username,
        body.password,
        req.ip,
        'representative',
      );
      const expiresAt = Date.now() + CONSOLE_TICKET_MS;
      appliance.events.record(
        { area: 'login', name: user.username, ip: req.ip },
        'console.signed-in',
        user.username,
        { version: body.version ?? 'unknown' },
      );
      return {
        ticket: issueTicket(appliance.interApplianceKey.get(), {
          kind: 'console',
          sub: user.username,
          ...ticketHolder(account ?? appliance.users.get(user.username)),
          exp: expiresAt,
        }),
        expiresAt: new Date(expiresAt).toISOString(),
        site: site(appliance),
        relay: appliance.routing.relayForNewClient(body.region),
      };
    },
  }),
  clientOp('consoleJumpClients', 'GET /api/client/jump-clients', {
    clientTicket: (appliance, req) => void ticketOf(appliance, req, 'console'),
    summary: 'The connected Jump Clients of the site (console ticket)',
    response: { status: 200, description: 'Jump Clients' },
    handler: ({ appliance, req }) => {
      const user = ticketOf(appliance, req, 'console');
      requireSite(appliance, 'representative-console');
      // Another representative's customers are not this one's to see.
      return {
        jumpClients: appliance.routing.jumpClients().filter((j) => !othersCustomer(j, user.sub)),
      };
    },
  }),
  clientOp('consoleResumeRelay', 'POST /api/client/sessions/:id/relay', {
    clientTicket: (appliance, req) => void ticketOf(appliance, req, 'console'),
    summary:
      'Where a resumable session is relayed now (the appliance holding its Jump Client): the console resumes its leg there',
    params: z.object({ id: z.uuid('must be a session id') }).strict(),
    body: z.object({ jumpClient: JumpClientName }).strict(),
    response: { status: 200, description: 'The relay, or null for the site itself' },
    handler: async ({ appliance, body, req }) => {
      ticketOf(appliance, req, 'console');
      requireSite(appliance, 'session-leg');
      // The resume token is checked where the leg arrives; this only says where to go.
      return { relay: await appliance.routing.relayForJumpClient(body.jumpClient) };
    },
  }),
  clientOp('consoleStartSession', 'POST /api/client/sessions', {
    clientTicket: (appliance, req) => void ticketOf(appliance, req, 'console'),
    summary: 'Start a session to a target through a Jump Client; returns a one-use session ticket',
    body: z
      .object({
        jumpClient: JumpClientName,
        target: TargetAddress,
      })
      .strict(),
    response: { status: 201, description: 'Session ticket' },
    handler: async ({ appliance, body, req }) => {
      const user = ticketOf(appliance, req, 'console');
      requireSite(appliance, 'representative-console');
      const relay = await appliance.routing.relayForJumpClient(body.jumpClient);
      const listed = appliance.routing.jumpClients().filter((j) => j.name === body.jumpClient);
      const jump = listed[0];
      if (listed.some((j) => othersCustomer(j, user.sub)))
        throw sessionsErrors.CUSTOMER_NOT_YOURS(
          `jumpClient: "${body.jumpClient}" is the customer of another representative; only the representative who gave the session key starts sessions with it.`,
          { fields: [{ field: 'jumpClient', message: "is another representative's customer" }] },
        );
      if (jump?.targets && !jump.targets.includes(body.target))
        throw sessionsErrors.TARGET_NOT_ALLOWED(
          `target: Jump Client "${body.jumpClient}" does not allow ${body.target}; it allows ${jump.targets.join(', ') || 'no targets'}.`,
          { fields: [{ field: 'target', message: 'is not allowed by this Jump Client' }] },
        );
      const session = randomUUID();
      return {
        session,
        ticket: issueTicket(appliance.interApplianceKey.get(), {
          kind: 'session',
          sub: user.sub,
          session,
          jumpClient: body.jumpClient,
          target: body.target,
          ...(user.uid ? { uid: user.uid } : {}),
          ...(user.gen !== undefined ? { gen: user.gen } : {}),
          exp: Date.now() + SESSION_TICKET_MS,
        }),
        relay,
      };
    },
  }),
  clientOp('consoleSessionKey', 'POST /api/client/session-keys', {
    clientTicket: (appliance, req) => void ticketOf(appliance, req, 'console'),
    summary:
      'A session key for a customer: their customer client joins the site with it, once, within 20 minutes',
    response: { status: 201, description: 'Session key' },
    handler: ({ appliance, req }) => {
      const user = ticketOf(appliance, req, 'console');
      requireSite(appliance, 'representative-console');
      const names = new Set(appliance.routing.jumpClients().map((j) => j.name));
      const issued = appliance.customerKeys.issue(user.sub, (name) => names.has(name));
      // The customer client's name, never the key: the log is searched and exported.
      appliance.events.record(
        { area: 'login', name: user.sub, ip: req.ip },
        'session-key.issued',
        issued.name,
        { expiresAt: new Date(issued.expiresAt).toISOString() },
      );
      return {
        key: issued.key,
        customerClient: issued.name,
        expiresAt: new Date(issued.expiresAt).toISOString(),
        validForMs: SESSION_KEY_MS,
      };
    },
  }),
  clientOp('customerClientJoin', 'POST /api/client/customers/join', {
    summary:
      "A customer client joins with a representative's session key (once); returns its ticket. With its ticket (Authorization: Bearer) and no key, it reconnects",
    body: z
      .object({
        key: z.string().min(1, 'is required').max(32).optional(),
        /** Sent again with a repeated join (its answer was lost): the same answer comes back. */
        nonce: z.string().min(8).max(64).optional(),
        version: Version,
        region: z.string().max(64).optional(),
      })
      .strict(),
    response: { status: 201, description: 'Joined' },
    handler: ({ appliance, body, req }) => {
      requireSite(appliance, 'customer-client');
      newerClient(appliance, body.version);
      let claims: { sub: string; representative: string; exp: number };
      if (body.key === undefined) {
        // Reconnecting (the site moved, the connection broke): the ticket it joined with.
        const t = ticketOf(appliance, req, 'jump-client');
        if (!t.representative)
          throw sessionsErrors.CLIENT_TICKET_INVALID(
            "This is a Jump Client's ticket; Jump Clients register with their enrolled key (POST /api/client/jump-clients/register).",
          );
        claims = { sub: t.sub, representative: t.representative, exp: t.exp };
      } else {
        let redeemed;
        try {
          redeemed = appliance.customerKeys.redeem(body.key, body.nonce, req.ip);
        } catch (e) {
          appliance.events.record(
            { area: 'login', name: 'customer-client', ip: req.ip },
            'customer-client.joined',
            '',
            { reason: 'unknown, used or expired session key' },
            'denied',
          );
          throw e;
        }
        claims = {
          sub: redeemed.name,
          representative: redeemed.representative,
          exp: Date.now() + CUSTOMER_TICKET_MS,
        };
        appliance.events.record(
          { area: 'login', name: claims.sub, ip: req.ip },
          'customer-client.joined',
          claims.sub,
          { representative: claims.representative },
        );
      }
      return {
        name: claims.sub,
        representative: claims.representative,
        ticket: issueTicket(appliance.interApplianceKey.get(), {
          kind: 'jump-client',
          sub: claims.sub,
          group: 'customers',
          representative: claims.representative,
          exp: claims.exp,
        }),
        expiresAt: new Date(claims.exp).toISOString(),
        site: site(appliance),
        relay: appliance.routing.relayForNewClient(body.region),
      };
    },
  }),
  clientOp('consoleRecording', 'GET /api/client/sessions/:id/recording', {
    clientTicket: (appliance, req) => void ticketOf(appliance, req, 'console'),
    summary: "Download the recording of one of the console user's own sessions",
    params: z.object({ id: SessionRecordId }).strict(),
    response: { status: 200, description: 'Recording', contentType: 'application/octet-stream' },
    handler: ({ appliance, params, req, reply }) => {
      const user = ticketOf(appliance, req, 'console');
      const { record, stream } = appliance.sessionRecords.recording(params.id);
      if (record.representative !== user.sub)
        throw sessionsErrors.RECORDING_NOT_YOURS(
          "This recording is of another representative's session; an administrator can download it from /login.",
        );
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(record.recordingSize))
        .send(stream);
    },
  }),
  loginOp('sessionRecords', 'GET /api/login/sessions', {
    summary:
      'Session records completed since a time (ms since 1970, ended at or after), oldest first; and the sessions running now',
    query: z
      .object({
        since: z.coerce.number().int().min(0).optional(),
        limit: z.coerce.number().int().min(1).max(5000).optional(),
      })
      .strict(),
    response: { status: 200, description: 'Session records' },
    handler: ({ appliance, query }) => ({
      sessions: appliance.sessionRecords.list(query),
      live: appliance.clients.liveSessions(),
    }),
  }),
  loginOp('sessionRecording', 'GET /api/login/sessions/:id/recording', {
    summary: 'Download the recording of a session',
    params: z.object({ id: SessionRecordId }).strict(),
    response: { status: 200, description: 'Recording', contentType: 'application/octet-stream' },
    handler: ({ appliance, params, reply }) => {
      const { record, stream } = appliance.sessionRecords.recording(params.id);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(record.recordingSize))
        .header('etag', `"${record.recordingSha256}"`)
        .send(stream);
    },
  }),
];
