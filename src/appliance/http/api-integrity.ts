import { z } from 'zod';
import { integritySnapshot } from '../../site/integrity.js';
import { defineOperation, type ApplianceOperation } from './operation.js';

/** The integrity snapshot the orchestrator compares before and after each step of an upgrade. */
export const integrityOperations: ApplianceOperation[] = [
  defineOperation({
    id: 'integritySnapshot',
    method: 'GET',
    path: '/api/login/integrity',
    area: 'login',
    tag: 'login',
    summary:
      "Counts and digests of the site's data (users, settings, files, logs, session records, recordings); with ids=true the ids of history rows and recordings",
    query: z.object({ ids: z.enum(['true', 'false']).optional() }).strict(),
    response: { status: 200, description: 'The snapshot' },
    handler: ({ appliance, query }) => ({
      appliance: appliance.identity.name,
      takenAt: new Date().toISOString(),
      ...integritySnapshot(appliance.db, query.ids === 'true'),
    }),
  }),
];
