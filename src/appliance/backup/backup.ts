import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { openDatabase, integrityCheck, migrate, schemaVersion, type Db } from '../../store/db.js';
import { SCHEMA_VERSION } from '../../store/migrations.js';
import { keepSiteDataOnly, restoreSiteData } from '../../site/site-data.js';
import type { BlobStore } from '../../store/blobs.js';

import { compareVersions, PRODUCT_VERSION } from '../../shared/version.js';
import { keyId } from '../../shared/crypto.js';
import type { Actor } from '../../shared/actor.js';
import type { EventLog } from '../../site/events.js';
import { readArchive, writeArchive, type BackupHeader } from './archive.js';
import { applianceErrors } from '../error-codes.js';

export interface BackupOptions {
  includeRecordings: boolean;
}

/** What a restore is asked beside the archive, as the API's query and the page's form give it. */
export const RestoreOptions = z
  .object({
    trustedSigner: z
      .string()
      .regex(
        /^[0-9a-f]{64}$/,
        "must be the 64-hex-digit key id shown on the signing appliance's Backup page",
      )
      .optional(),
  })
  .strict();

export interface RestoreResult {
  appliance: string;
  createdAt: string;
  productVersion: string;
  counts: Record<string, number>;
}

/**
 * Backups of the site's data (settings, users, file store, logs, session records and, on
 * request, recordings), signed with this appliance's identity key. Restore verifies the whole
 * archive before it changes anything, then in one transaction replaces users, settings and
 * files and merges the event log and session records (history is never rolled back).
 */
export class BackupService {
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly events: EventLog,
    private readonly tmpDir: string,
    private readonly applianceName: string,
    private readonly signingKey: KeyObject,
    private readonly publicKeyPem: string,
  ) {}

  get signerKeyId(): string {
    return keyId(this.publicKeyPem);
  }

  private async workDir(): Promise<string> {
    const dir = path.join(this.tmpDir, `backup-${randomBytes(6).toString('hex')}`);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** Write a signed archive to a temporary file; the caller streams it and calls `cleanup`. */
  async create(
    actor: Actor,
    opts: BackupOptions,
  ): Promise<{ file: string; header: BackupHeader; cleanup: () => Promise<void> }> {
    const dir = await this.workDir();
    const cleanup = () => fsp.rm(dir, { recursive: true, force: true });
    try {
      const snapshot = path.join(dir, 'site.db');
      // VACUUM INTO reads one consistent snapshot while writers go on.
      this.db.prepare('VACUUM INTO ?').run(snapshot);
      const snap = openDatabase(snapshot);
      let blobs: string[];
      try {
        snap.pragma('journal_mode = DELETE');
        keepSiteDataOnly(snap);
        const rows = snap
          .prepare(
            opts.includeRecordings
              ? 'SELECT sha256 AS s FROM files UNION SELECT recording_sha256 FROM session_records WHERE recording_sha256 IS NOT NULL'
              : 'SELECT DISTINCT sha256 AS s FROM files',
          )
          .all() as { s: string }[];
        blobs = rows.map((r) => r.s);
        snap.exec('VACUUM');
      } finally {
        snap.close();
      }
      const entries = [
        { name: 'site.db', file: snapshot },
        ...blobs.map((s) => ({ name: `blobs/${s}`, file: this.blobs.pathOf(s) })),
      ];
      const file = path.join(dir, 'backup.ghb');
      const header = await writeArchive(
        file,
        {
          productVersion: PRODUCT_VERSION,
          schemaVersion: SCHEMA_VERSION,
          appliance: this.applianceName,
          createdAt: new Date().toISOString(),
          includesRecordings: opts.includeRecordings,
        },
        entries,
        this.signingKey,
        this.publicKeyPem,
      );
      this.events.record(actor, 'backup.created', this.applianceName, {
        includesRecordings: opts.includeRecordings,
        entries: header.entries.length,
        bytes: header.entries.reduce((n, e) => n + e.size, 0),
      });
      return { file, header, cleanup };
    } catch (e) {
      await cleanup();
      throw e;
    }
  }

  /**
   * Restore from an uploaded archive. `trustedSigner` is the key id of another appliance whose
   * backups the administrator chooses to trust (this appliance's own key is always trusted).
   */
  async restore(
    actor: Actor,
    upload: Readable,
    opts: { trustedSigner?: string; maxBytes: number },
  ): Promise<RestoreResult> {
    const dir = await this.workDir();
    try {
      const archive = path.join(dir, 'upload.ghb');
      await this.receive(upload, archive, opts.maxBytes);
      const own = this.signerKeyId;
      const header = await readArchive(
        archive,
        path.join(dir, 'x'),
        (id) => id === own || (opts.trustedSigner !== undefined && id === opts.trustedSigner),
      );
      if (
        header.schemaVersion > SCHEMA_VERSION ||
        compareVersions(header.productVersion, PRODUCT_VERSION) > 0
      ) {
        throw applianceErrors.BACKUP_NEWER_VERSION(
          `This backup was made by Gatehouse ${header.productVersion} (schema ${header.schemaVersion}); this appliance runs ${PRODUCT_VERSION} (schema ${SCHEMA_VERSION}). Update this appliance to ${header.productVersion} or later, then restore.`,
        );
      }
      const snapshotFile = path.join(dir, 'x', 'site.db');
      if (!header.entries.some((e) => e.name === 'site.db')) {
        throw applianceErrors.BACKUP_CORRUPT(
          'The backup archive has no site database: it is incomplete.',
        );
      }
      const snap = openDatabase(snapshotFile);
      try {
        const problems = integrityCheck(snap);
        if (problems.length)
          throw applianceErrors.BACKUP_CORRUPT(
            `The backup's database fails its integrity check (${problems[0]}).`,
          );
        if (schemaVersion(snap) !== header.schemaVersion) {
          throw applianceErrors.BACKUP_CORRUPT(
            'The backup header and its database disagree on the schema version.',
          );
        }
        migrate(snap); // an older backup is brought to this schema on the copy, never in place
        const blobNames = new Set(
          header.entries.filter((e) => e.name.startsWith('blobs/')).map((e) => e.name.slice(6)),
        );
        const missing = (
          snap.prepare('SELECT DISTINCT sha256 FROM files').all() as { sha256: string }[]
        ).filter((r) => !blobNames.has(r.sha256));
        if (missing.length) {
          throw applianceErrors.BACKUP_CORRUPT(
            `The backup lists ${missing.length} file(s) whose content is not in the archive.`,
          );
        }
      } finally {
        snap.close();
      }
      // Content first: extra blobs are harmless, and the rows below only then point at them.
      for (const e of header.entries.filter((x) => x.name.startsWith('blobs/'))) {
        const src = path.join(dir, 'x', e.name);
        const blob = await this.blobs.put(createReadStream(src), { expectedSha256: e.sha256 });
        this.blobs.release(blob.sha256);
      }
      const counts = restoreSiteData(this.db, snapshotFile, Date.parse(header.createdAt), (n) => {
        this.db.exec(`DELETE FROM auth_sessions WHERE area = 'login'`);
        this.events.record(actor, 'backup.restored', header.appliance, {
          createdAt: header.createdAt,
          productVersion: header.productVersion,
          counts: n,
        });
      });
      return {
        appliance: header.appliance,
        createdAt: header.createdAt,
        productVersion: header.productVersion,
        counts,
      };
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  private async receive(upload: Readable, file: string, maxBytes: number): Promise<void> {
    const fh = await fsp.open(file, 'w', 0o600);
    let size = 0;
    try {
      for await (const chunk of upload) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          throw applianceErrors.BACKUP_TOO_LARGE(
            `The uploaded backup is larger than ${maxBytes} bytes, half of the free space on the data disk (the rest is needed to unpack it). Free some space on the appliance and try again.`,
          );
        }
        await fh.write(chunk as Buffer);
      }
    } finally {
      await fh.close();
    }
    if (size === 0)
      throw applianceErrors.BACKUP_EMPTY(
        'The uploaded backup is empty. Choose the archive file downloaded from /appliance > Backup.',
      );
  }
}
