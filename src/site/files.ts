import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { Db } from '../store/db.js';
import type { BlobStore } from '../store/blobs.js';
import { notFound } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from './events.js';

export const FileName = z
  .string({ message: 'is required' })
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  // eslint-disable-next-line no-control-regex
  .regex(/^[^/\\\x00-\x1f\x7f]+$/, "must not contain '/', '\\' or control characters")
  .refine((n) => n !== '.' && n !== '..', "must not be '.' or '..'")
  // Bidirectional controls make a name display as another ("invoice\u202Efdp.exe" shows as
  // "invoiceexe.pdf"): refused rather than stripped, so the name stored is the name given.
  .refine(
    (n) => !/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(n),
    'must not contain bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C): they make a name read as another; rename the file without them',
  );

export interface StoredFile {
  name: string;
  sha256: string;
  size: number;
  contentType: string;
  uploadedBy: string;
  uploadedAt: number;
}

interface FileRow {
  name: string;
  sha256: string;
  size: number;
  content_type: string;
  uploaded_by: string;
  uploaded_at: number;
}

const toFile = (r: FileRow): StoredFile => ({
  name: r.name,
  sha256: r.sha256,
  size: r.size,
  contentType: r.content_type,
  uploadedBy: r.uploaded_by,
  uploadedAt: r.uploaded_at,
});

/** The site's file store: names in the database, content in the blob store. */
export class FileStore {
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly events: EventLog,
    private readonly maxBytes: () => number,
  ) {}

  list(): StoredFile[] {
    return (this.db.prepare('SELECT * FROM files ORDER BY name').all() as FileRow[]).map(toFile);
  }

  get(name: string): StoredFile {
    const row = this.db.prepare('SELECT * FROM files WHERE name = ?').get(name) as
      FileRow | undefined;
    if (!row) throw notFound(`File "${name}"`, 'Check the name in the File Store list.');
    return toFile(row);
  }

  /** Store (or replace) a file; durable on return. */
  async put(
    actor: Actor,
    name: string,
    contentType: string,
    content: Readable | Uint8Array,
  ): Promise<StoredFile> {
    const blob = await this.blobs.put(content, { limit: this.maxBytes() });
    try {
      let replaced: string | undefined;
      this.db.transaction(() => {
        const old = this.db.prepare('SELECT sha256 FROM files WHERE name = ?').get(name) as
          { sha256: string } | undefined;
        replaced = old?.sha256;
        this.db
          .prepare(
            `INSERT INTO files (name, sha256, size, content_type, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size,
               content_type = excluded.content_type, uploaded_by = excluded.uploaded_by, uploaded_at = excluded.uploaded_at`,
          )
          .run(name, blob.sha256, blob.size, contentType, actor.name, Date.now());
        this.events.record(actor, replaced ? 'file.replaced' : 'file.uploaded', name, {
          sha256: blob.sha256,
          size: blob.size,
        });
      })();
      if (replaced && replaced !== blob.sha256) await this.collect(replaced);
    } finally {
      this.blobs.release(blob.sha256);
    }
    return this.get(name);
  }

  open(name: string): { file: StoredFile; stream: Readable } {
    const file = this.get(name);
    return { file, stream: this.blobs.read(file.sha256) };
  }

  async delete(actor: Actor, name: string): Promise<void> {
    const file = this.get(name);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM files WHERE name = ?').run(name);
      this.events.record(actor, 'file.deleted', name, { sha256: file.sha256 });
    })();
    await this.collect(file.sha256);
  }

  private async collect(sha256: string): Promise<void> {
    await this.blobs.removeIfUnreferenced(sha256, (sha) => {
      const n = this.db
        .prepare(
          `SELECT (SELECT count(*) FROM files WHERE sha256 = @sha) + (SELECT count(*) FROM session_records WHERE recording_sha256 = @sha) AS n`,
        )
        .get({ sha }) as { n: number };
      return n.n > 0;
    });
  }
}
