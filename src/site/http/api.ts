import { z } from 'zod';
import { operationsOf, type Operation } from '../../shared/http/operations.js';
import { FileName } from '../files.js';
import { integritySnapshot } from '../integrity.js';
import { InterApplianceKeyValue } from '../security.js';
import { SiteSettingsPatch } from '../settings.js';
import { NewUserInput, UserPatch, Username } from '../users.js';
import { sendStoredFile } from './download.js';
import { LOG_SEARCH_FIELDS } from './log-search.js';
import type { SiteDataSite } from './site.js';

type SiteOperation = Operation<unknown, unknown, unknown, SiteDataSite>;
const op = operationsOf<SiteDataSite>({ area: 'login', tag: 'login' });

const UserParams = z.object({ username: Username });
const FileParams = z.object({ name: FileName });
const LogQuery = z
  .object({
    ...LOG_SEARCH_FIELDS,
    action: z.string().max(100, 'must be at most 100 characters').optional(),
    since: z.coerce
      .number({ message: 'must be a time in milliseconds since 1970' })
      .int()
      .nonnegative()
      .optional(),
    until: z.coerce
      .number({ message: 'must be a time in milliseconds since 1970' })
      .int()
      .nonnegative()
      .optional(),
    pageSize: z.coerce
      .number({ message: 'must be a whole number' })
      .int('must be a whole number')
      .min(1, 'must be 1 or more')
      .max(500, 'must be at most 500')
      .default(50),
  })
  .strict();

/** /login area: the site's data (users, configuration, file store), which the primary manages. */
export const siteDataOperations: SiteOperation[] = [
  op('listUsers', 'GET /api/login/users', {
    summary: 'List user accounts',
    response: { status: 200, description: 'Users' },
    handler: ({ appliance }) => ({ users: appliance.users.list() }),
  }),
  op('createUser', 'POST /api/login/users', {
    summary: 'Create a user (password rules apply)',
    body: NewUserInput,
    response: { status: 201, description: 'Created' },
    handler: ({ appliance, actor, body }) => appliance.users.create(actor, body),
  }),
  op('getUser', 'GET /api/login/users/:username', {
    summary: 'One user',
    params: UserParams,
    response: { status: 200, description: 'The user' },
    handler: ({ appliance, params }) => appliance.users.get(params.username),
  }),
  op('updateUser', 'PATCH /api/login/users/:username', {
    summary: 'Edit, disable/enable or reset the password of a user',
    params: UserParams,
    body: UserPatch,
    response: { status: 200, description: 'Updated' },
    handler: ({ appliance, actor, params, body }) =>
      appliance.users.update(actor, params.username, body),
  }),
  op('deleteUser', 'DELETE /api/login/users/:username', {
    summary: 'Delete a user',
    params: UserParams,
    response: { status: 204, description: 'Deleted' },
    handler: ({ appliance, actor, params }) => {
      appliance.users.delete(actor, params.username);
    },
  }),
  op('getSettings', 'GET /api/login/settings', {
    summary: 'Configuration: site settings',
    response: { status: 200, description: 'Settings' },
    handler: ({ appliance }) => appliance.settings.get(),
  }),
  op('updateSettings', 'PATCH /api/login/settings', {
    summary: 'Change site settings (only the fields given)',
    body: SiteSettingsPatch,
    response: { status: 200, description: 'Settings after the change' },
    handler: ({ appliance, actor, body }) => appliance.settings.update(actor, body),
  }),
  op('listFiles', 'GET /api/login/files', {
    summary: 'File Store: list files',
    response: { status: 200, description: 'Files' },
    handler: ({ appliance }) => ({ files: appliance.files.list() }),
  }),
  op('putFile', 'PUT /api/login/files/:name', {
    summary: 'Upload (or replace) a file; durable when answered',
    params: FileParams,
    rawBody: { contentType: 'application/octet-stream', description: 'File content' },
    response: { status: 201, description: 'Stored' },
    handler: ({ appliance, actor, params, req }) =>
      appliance.files.put(actor, params.name, 'application/octet-stream', req.body as never),
  }),
  op('getFile', 'GET /api/login/files/:name', {
    summary: 'Download a file',
    params: FileParams,
    response: { status: 200, description: 'File content', contentType: 'application/octet-stream' },
    handler: ({ appliance, params, reply }) => {
      return sendStoredFile(reply, appliance.files.open(params.name));
    },
  }),
  op('deleteFile', 'DELETE /api/login/files/:name', {
    summary: 'Delete a file',
    params: FileParams,
    response: { status: 204, description: 'Deleted' },
    handler: async ({ appliance, actor, params }) => {
      await appliance.files.delete(actor, params.name);
    },
  }),
];

/**
 * /login: Logs, Management > Security, and the integrity snapshot the orchestrator compares
 * before and after each step of an upgrade. A failover backup answers these too.
 */
export const siteOperations: SiteOperation[] = [
  op('searchLogs', 'GET /api/login/logs', {
    summary: 'Logs: search the event log, newest first, paged',
    query: LogQuery,
    response: { status: 200, description: 'One page of events' },
    handler: ({ appliance, query }) => appliance.events.search(query),
  }),
  op('getInterApplianceKey', 'GET /api/login/security/inter-appliance-key', {
    summary: 'Management > Security: show the Inter-Appliance key',
    response: { status: 200, description: 'The key and its fingerprint' },
    handler: ({ appliance }) => ({
      key: appliance.interApplianceKey.get(),
      fingerprint: appliance.interApplianceKey.fingerprint(),
    }),
  }),
  op('setInterApplianceKey', 'PUT /api/login/security/inter-appliance-key', {
    summary: "Set the Inter-Appliance key (to match another appliance's)",
    body: z.object({ key: InterApplianceKeyValue }).strict(),
    response: { status: 200, description: 'The new key fingerprint' },
    handler: ({ appliance, actor, body }) => {
      appliance.interApplianceKey.set(actor, body.key);
      return { fingerprint: appliance.interApplianceKey.fingerprint() };
    },
  }),
  op('regenerateInterApplianceKey', 'POST /api/login/security/inter-appliance-key/regenerate', {
    summary: 'Generate a new random Inter-Appliance key',
    response: { status: 200, description: 'The new key and its fingerprint' },
    handler: ({ appliance, actor }) => {
      const key = appliance.interApplianceKey.regenerate(actor);
      return { key, fingerprint: appliance.interApplianceKey.fingerprint() };
    },
  }),
  op('integritySnapshot', 'GET /api/login/integrity', {
    summary:
      "Counts and digests of the site's data (users, settings, files, logs, session records, recordings); with ids=true the ids of history rows and recordings",
    query: z.object({ ids: z.enum(['true', 'false']).optional() }).strict(),
    response: { status: 200, description: 'The snapshot' },
    handler: ({ appliance, query }) => ({
      appliance: appliance.name,
      takenAt: new Date().toISOString(),
      ...integritySnapshot(appliance.db, query.ids === 'true'),
    }),
  }),
];
