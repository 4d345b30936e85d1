import { parseInput } from '../../shared/http/operations.js';
import type { BlobStore } from '../../store/blobs.js';
import type { PeerRoute } from '../peer-server.js';
import { BulkBlobsQuery, sendBlobFrames } from './blob-frames.js';
import type { SyncService } from './service.js';
import { BucketsRequest, ManifestRequest, RowsRequest, RunRequest } from './protocol.js';

/** What the synchronisation's endpoints need of the appliance that serves them. */
export interface SyncPeerHost {
  readonly sync: Pick<SyncService, 'source' | 'runRequested' | 'progress' | 'lastResult'>;
  readonly blobs: BlobStore;
}

/** A question the backup asks of the primary's sync source: POST its request, get the answer. */
function sourceRoute(
  name: string,
  answer: (source: SyncService['source'], body: unknown) => unknown,
): PeerRoute<SyncPeerHost> {
  return {
    method: 'POST',
    path: `/api/peer/sync/${name}`,
    handler: ({ appliance, body }) => answer(appliance.sync.source, body),
  };
}

/** Inter-appliance endpoints of the synchronisation (see protocol.ts). */
export const SYNC_ROUTES: PeerRoute<SyncPeerHost>[] = [
  sourceRoute('manifest', (source, body) =>
    source.manifest(parseInput(ManifestRequest, body, 'body')),
  ),
  sourceRoute('buckets', (source, body) =>
    source.buckets(parseInput(BucketsRequest, body, 'body')),
  ),
  sourceRoute('rows', (source, body) => source.rows(parseInput(RowsRequest, body, 'body'))),
  {
    method: 'GET',
    path: '/api/peer/sync/blobs',
    handler: ({ appliance, req, reply }) =>
      sendBlobFrames(appliance.blobs, parseInput(BulkBlobsQuery, req.query, 'query').sha256, reply),
  },
  {
    method: 'POST',
    path: '/api/peer/sync/run',
    handler: ({ appliance, from, body }) =>
      appliance.sync.runRequested(from, parseInput(RunRequest, body, 'body')),
  },
  {
    method: 'POST',
    path: '/api/peer/sync/status',
    handler: ({ appliance }) => ({
      progress: appliance.sync.progress,
      lastResult: appliance.sync.lastResult ?? null,
    }),
  },
];
