import { z } from 'zod';
import { JumpClientName } from '../enrolment-tokens.js';
import { issueTicket } from '../tickets.js';
import { newerClient, requireSite, site, Version, type ClientSite } from './client-site.js';
import { operationsOf, type Operation } from '../../shared/http/operations.js';

type ClientOperation = Operation<unknown, unknown, unknown, ClientSite>;
const op = operationsOf<ClientSite>({ area: 'public', tag: 'clients' });

const JUMP_TICKET_MS = 24 * 3600_000;

const Signed = z
  .object({
    name: JumpClientName,
    group: JumpClientName.default('default'),
    installation: z.uuid('must be the installation id the enrolment answered'),
    challenge: z.string({ message: 'is required' }).min(1, 'is required').max(400),
    signature: z.string({ message: 'is required' }).min(1, 'is required').max(200),
    version: Version,
    region: z.string().max(64).optional(),
  })
  .strict();
/** What a Jump Client of the previous release sends: the site-wide key, no identity. */
const Legacy = z
  .object({
    name: JumpClientName,
    group: JumpClientName.default('default'),
    key: z.string({ message: 'is required' }).min(1, 'is required').max(200),
    version: Version,
    region: z.string().max(64).optional(),
  })
  .strict();

/** A failed enrolment or registration counts toward the caller address's sign-in throttle. */
function throttled<T>(appliance: ClientSite, ip: string, run: () => T): T {
  appliance.auth.throttle.check(ip);
  try {
    return run();
  } catch (e) {
    if ((e as { status?: number }).status === 401) appliance.auth.throttle.fail(ip);
    throw e;
  }
}

function ticketFor(
  appliance: ClientSite,
  body: { name: string; group: string; region?: string },
  installation?: string,
) {
  const expiresAt = Date.now() + JUMP_TICKET_MS;
  return {
    ticket: issueTicket(appliance.interApplianceKey.get(), {
      kind: 'jump-client',
      sub: body.name,
      group: body.group,
      ...(installation ? { installation } : {}),
      exp: expiresAt,
    }),
    expiresAt: new Date(expiresAt).toISOString(),
    site: site(appliance),
    relay: appliance.routing.relayForNewClient(body.region),
  };
}

/**
 * Jump Client identity: enrolment of an installation's key with a token and registration by
 * signing a challenge (src/sessions/jump-client-identities.ts).
 */
export const jumpClientOperations: ClientOperation[] = [
  op('jumpClientEnrol', 'POST /api/client/jump-clients/enrol', {
    summary:
      "Enrol a Jump Client installation's Ed25519 public key under its name, with an enrolment token (or, while the window is open after an upgrade, the legacy site key)",
    body: z
      .object({
        name: JumpClientName,
        group: JumpClientName.default('default'),
        token: z.string({ message: 'is required' }).min(1, 'is required').max(200),
        publicKey: z.string({ message: 'is required' }).min(1, 'is required').max(1000),
        version: Version,
      })
      .strict(),
    response: { status: 201, description: 'Enrolled' },
    handler: ({ appliance, body, req }) => {
      requireSite(appliance);
      newerClient(appliance, body.version);
      const installation = throttled(appliance, req.ip, () =>
        appliance.jumpClientIdentities.enrol(body, req.ip),
      );
      return { installation };
    },
  }),
  op('jumpClientChallenge', 'POST /api/client/jump-clients/challenge', {
    summary: 'A one-use challenge (valid a minute) the Jump Client signs to register',
    body: z.object({ name: JumpClientName }).strict(),
    response: { status: 201, description: 'Challenge' },
    handler: ({ appliance, body }) => {
      requireSite(appliance);
      return appliance.jumpClientIdentities.challenge(body.name);
    },
  }),
  op('jumpClientRegister', 'POST /api/client/jump-clients/register', {
    summary:
      "Jump Client registration: the installation's signature of a challenge (or the previous release's legacy key); returns a Jump Client ticket",
    body: z.union([Signed, Legacy]),
    response: { status: 201, description: 'Registered' },
    handler: ({ appliance, body, req }) => {
      requireSite(appliance);
      newerClient(appliance, body.version);
      const ids = appliance.jumpClientIdentities;
      if ('key' in body) {
        throttled(appliance, req.ip, () => ids.registerLegacy(body.name, body.key, req.ip));
        return ticketFor(appliance, body);
      }
      const installation = throttled(appliance, req.ip, () => ids.register(body, req.ip));
      return ticketFor(appliance, body, installation.id);
    },
  }),
];
