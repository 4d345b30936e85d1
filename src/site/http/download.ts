import type { FastifyReply } from 'fastify';
import type { Readable } from 'node:stream';
import type { StoredFile } from '../files.js';

/** Send a file of the File Store as a download (the API's and the page's alike). */
export function sendStoredFile(
  reply: FastifyReply,
  { file, stream }: { file: StoredFile; stream: Readable },
) {
  return reply
    .header('content-type', file.contentType)
    .header('content-length', String(file.size))
    .header('etag', `"${file.sha256}"`)
    .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`)
    .send(stream);
}
