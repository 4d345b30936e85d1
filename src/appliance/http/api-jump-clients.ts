import { z } from 'zod';
import { JumpClientName, NewEnrolmentToken } from '../../sessions/enrolment-tokens.js';
import { issueTicket, jumpClientKeyOf } from '../../sessions/tickets.js';
import type { Appliance } from '../context.js';
import { newerClient, requireSite, site, Version } from './client-site.js';
import { defineOperation, type ApplianceOperation } from './operation.js';

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
function throttled<T>(appliance: Appliance, ip: string, run: () => T): T {
  appliance.auth.throttle.check(ip);
  try {
    return run();
  } catch (e) {
    if ((e as { status?: number }).status === 401) appliance.auth.throttle.fail(ip);
    throw e;
  }
}

function ticketFor(
  appliance: Appliance,
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

const Id = z.object({ id: z.uuid('must be an id from the list') }).strict();

/**
 * Jump Client identity: enrolment of an installation's key with a token and registration by
 * signing a challenge (src/sessions/jump-client-identities.ts).
 */
export const jumpClientOperations: ApplianceOperation[] = [
  defineOperation({
    id: 'jumpClientEnrol',
    method: 'POST',
    path: '/api/client/jump-clients/enrol',
    area: 'public',
    tag: 'clients',
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
  defineOperation({
    id: 'jumpClientChallenge',
    method: 'POST',
    path: '/api/client/jump-clients/challenge',
    area: 'public',
    tag: 'clients',
    summary: 'A one-use challenge (valid a minute) the Jump Client signs to register',
    body: z.object({ name: JumpClientName }).strict(),
    response: { status: 201, description: 'Challenge' },
    handler: ({ appliance, body }) => {
      requireSite(appliance);
      return appliance.jumpClientIdentities.challenge(body.name);
    },
  }),
  defineOperation({
    id: 'jumpClientRegister',
    method: 'POST',
    path: '/api/client/jump-clients/register',
    area: 'public',
    tag: 'clients',
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

/**
 * /login > Jump Clients: enrolment tokens, installations, the site-wide key. Site data: a
 * failover backup receives it from its primary.
 */
export const jumpClientAdminOperations: ApplianceOperation[] = [
  defineOperation({
    id: 'jumpClientTokens',
    method: 'GET',
    path: '/api/login/jump-clients/tokens',
    area: 'login',
    tag: 'login',
    summary: 'Enrolment tokens that can still enrol Jump Client installations (never the tokens)',
    response: { status: 200, description: 'Tokens' },
    handler: ({ appliance }) => ({ tokens: appliance.jumpClientIdentities.tokens.list() }),
  }),
  defineOperation({
    id: 'createJumpClientToken',
    method: 'POST',
    path: '/api/login/jump-clients/tokens',
    area: 'login',
    tag: 'login',
    summary:
      'Create an enrolment token (uses, hours, optionally one name; shown once): a Jump Client installation enrols its key with it',
    body: NewEnrolmentToken,
    response: { status: 201, description: 'The token, shown once' },
    handler: ({ appliance, actor, body }) =>
      appliance.jumpClientIdentities.tokens.create(actor, body),
  }),
  defineOperation({
    id: 'deleteJumpClientToken',
    method: 'DELETE',
    path: '/api/login/jump-clients/tokens/:id',
    area: 'login',
    tag: 'login',
    summary: 'Delete an enrolment token before it is used up',
    params: Id,
    response: { status: 204, description: 'Deleted' },
    handler: ({ appliance, actor, params }) => {
      appliance.jumpClientIdentities.tokens.delete(actor, params.id);
    },
  }),
  defineOperation({
    id: 'jumpClientInstallations',
    method: 'GET',
    path: '/api/login/jump-clients/installations',
    area: 'login',
    tag: 'login',
    summary: 'Every enrolled Jump Client installation (name, key fingerprint, revoked or not)',
    response: { status: 200, description: 'Installations' },
    handler: ({ appliance }) => ({
      installations: appliance.jumpClientIdentities.list(),
      legacyKeyEnrolment: appliance.jumpClientIdentities.legacyKeyOpen(),
    }),
  }),
  defineOperation({
    id: 'revokeJumpClientInstallation',
    method: 'POST',
    path: '/api/login/jump-clients/installations/:id/revoke',
    area: 'login',
    tag: 'login',
    summary:
      'Revoke one Jump Client installation: every appliance of the site refuses it within seconds and cuts its connection',
    params: Id,
    response: { status: 200, description: 'Revoked' },
    handler: ({ appliance, actor, params }) =>
      appliance.jumpClientIdentities.revoke(actor, params.id),
  }),
  defineOperation({
    id: 'setJumpClientLegacyKey',
    method: 'PUT',
    path: '/api/login/jump-clients/legacy-key',
    area: 'login',
    tag: 'login',
    summary:
      'Open or close the upgrade window in which installations holding only the legacy site key enrol themselves (trust on first use)',
    body: z.object({ open: z.boolean({ message: 'must be true or false' }) }).strict(),
    response: { status: 200, description: 'The window' },
    handler: ({ appliance, actor, body }) => {
      appliance.jumpClientIdentities.setLegacyKeyOpen(actor, body.open);
      return { open: appliance.jumpClientIdentities.legacyKeyOpen() };
    },
  }),
  defineOperation({
    id: 'jumpClientKey',
    method: 'GET',
    path: '/api/login/jump-clients/key',
    area: 'login',
    tag: 'login',
    summary:
      "The previous release's site-wide Jump Client key (for installations not yet enrolled, while the legacy window is open)",
    response: { status: 200, description: 'The key' },
    handler: ({ appliance, actor }) => {
      appliance.events.record(actor, 'jump-client.key.viewed', '');
      return {
        key: jumpClientKeyOf(appliance.interApplianceKey.get()),
        open: appliance.jumpClientIdentities.legacyKeyOpen(),
      };
    },
  }),
];
