import { z } from 'zod';
import { operationsOf, type Operation } from '../../shared/http/operations.js';
import { NewEnrolmentToken } from '../enrolment-tokens.js';
import { jumpClientKeyOf } from '../tickets.js';
import type { JumpClientsSite } from './site.js';

/** An operation of the sessions domain: its handler sees the appliance as `JumpClientsSite`. */
export type JumpClientsOperation = Operation<unknown, unknown, unknown, JumpClientsSite>;
const op = operationsOf<JumpClientsSite>({ area: 'login', tag: 'login' });

const Id = z.object({ id: z.uuid('must be an id from the list') }).strict();

/**
 * /login > Jump Clients: enrolment tokens, installations, the site-wide key. Site data: a
 * failover backup receives it from its primary.
 */
export const jumpClientAdminOperations: JumpClientsOperation[] = [
  op('jumpClientTokens', 'GET /api/login/jump-clients/tokens', {
    summary: 'Enrolment tokens that can still enrol Jump Client installations (never the tokens)',
    response: { status: 200, description: 'Tokens' },
    handler: ({ appliance }) => ({ tokens: appliance.jumpClientIdentities.tokens.list() }),
  }),
  op('createJumpClientToken', 'POST /api/login/jump-clients/tokens', {
    summary:
      'Create an enrolment token (uses, hours, optionally one name; shown once): a Jump Client installation enrols its key with it',
    body: NewEnrolmentToken,
    response: { status: 201, description: 'The token, shown once' },
    handler: ({ appliance, actor, body }) =>
      appliance.jumpClientIdentities.tokens.create(actor, body),
  }),
  op('deleteJumpClientToken', 'DELETE /api/login/jump-clients/tokens/:id', {
    summary: 'Delete an enrolment token before it is used up',
    params: Id,
    response: { status: 204, description: 'Deleted' },
    handler: ({ appliance, actor, params }) => {
      appliance.jumpClientIdentities.tokens.delete(actor, params.id);
    },
  }),
  op('jumpClientInstallations', 'GET /api/login/jump-clients/installations', {
    summary: 'Every enrolled Jump Client installation (name, key fingerprint, revoked or not)',
    response: { status: 200, description: 'Installations' },
    handler: ({ appliance }) => ({
      installations: appliance.jumpClientIdentities.list(),
      legacyKeyEnrolment: appliance.jumpClientIdentities.legacyKeyOpen(),
    }),
  }),
  op('revokeJumpClientInstallation', 'POST /api/login/jump-clients/installations/:id/revoke', {
    summary:
      'Revoke one Jump Client installation: every appliance of the site refuses it within seconds and cuts its connection',
    params: Id,
    response: { status: 200, description: 'Revoked' },
    handler: ({ appliance, actor, params }) =>
      appliance.jumpClientIdentities.revoke(actor, params.id),
  }),
  op('setJumpClientLegacyKey', 'PUT /api/login/jump-clients/legacy-key', {
    summary:
      'Open or close the upgrade window in which installations holding only the legacy site key enrol themselves (trust on first use)',
    body: z.object({ open: z.boolean({ message: 'must be true or false' }) }).strict(),
    response: { status: 200, description: 'The window' },
    handler: ({ appliance, actor, body }) => {
      appliance.jumpClientIdentities.setLegacyKeyOpen(actor, body.open);
      return { open: appliance.jumpClientIdentities.legacyKeyOpen() };
    },
  }),
  op('jumpClientKey', 'GET /api/login/jump-clients/key', {
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
