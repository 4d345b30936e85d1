import { parseInput } from '../../shared/http/operations.js';
import type { PeerRoute } from '../peer-server.js';
import { BulkBlobsQuery, sendBlobFrames } from './blob-frames.js';
import { BucketsRequest, ManifestRequest, RowsRequest, RunRequest } from './protocol.js';

/** Inter-appliance endpoints of the synchronisation (see protocol.ts). */
export const SYNC_ROUTES: PeerRoute[] = [
  {
    method: 'POST',
    path: '/api/peer/sync/manifest',
    handler: ({ appliance, body }) =>
      appliance.sync.source.manifest(parseInput(ManifestRequest, body, 'body')),
  },
  {
    method: 'POST',
    path: '/api/peer/sync/buckets',
    handler: ({ appliance, body }) =>
      appliance.sync.source.buckets(parseInput(BucketsRequest, body, 'body')),
  },
  {
    method: 'POST',
    path: '/api/peer/sync/rows',
    handler: ({ appliance, body }) =>
      appliance.sync.source.rows(parseInput(RowsRequest, body, 'body')),
  },
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
