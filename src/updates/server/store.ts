import { openDatabase, type Db } from '../../store/db.js';
import type { PackageKind } from '../package.js';
import { EnrolmentStore } from './enrolment-store.js';
import { storeErrors } from '../../store/error-codes.js';

/**
 * The update server's database: the published catalogue, the enrolled appliances (a name bound
 * to an identity key the operator vouched for) and which appliance downloaded which package
 * (S11). WAL with synchronous=FULL, so `publish` and `reset` from the CLI work while the server
 * runs, and an acknowledged change survives a crash.
 */
const MIGRATIONS = [
  `CREATE TABLE packages (
     sha256        TEXT PRIMARY KEY,
     kind          TEXT NOT NULL CHECK (kind IN ('base', 'product')),
     version       TEXT NOT NULL,
     requires_base TEXT,
     release_notes TEXT NOT NULL,
     created_at    TEXT NOT NULL,
     size          INTEGER NOT NULL,
     signer_key_ids TEXT NOT NULL,
     published_at  INTEGER NOT NULL,
     UNIQUE (kind, version)
   );
   CREATE TABLE appliances (
     name          TEXT PRIMARY KEY,
     key_id        TEXT NOT NULL UNIQUE,
     public_key    TEXT NOT NULL,
     product       TEXT NOT NULL,
     base          TEXT NOT NULL,
     first_seen_at INTEGER NOT NULL,
     last_seen_at  INTEGER NOT NULL
   );
   CREATE TABLE downloads (
     key_id TEXT NOT NULL REFERENCES appliances (key_id) ON DELETE CASCADE ON UPDATE CASCADE,
     sha256 TEXT NOT NULL REFERENCES packages (sha256),
     via    TEXT NOT NULL CHECK (via IN ('api', 'download-key')),
     at     INTEGER NOT NULL,
     PRIMARY KEY (key_id, sha256)
   );
   CREATE TABLE settings (
     key   TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );
   CREATE TABLE admin_sessions (
     token_hash TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  // Enrolment proven by the operator (issue 18, finding 4). Appliances bound before this change
  // stay enrolled, marked 'before-proof' for the operator to review.
  `ALTER TABLE appliances ADD COLUMN enrolled_via TEXT NOT NULL DEFAULT 'before-proof'
     CHECK (enrolled_via IN ('before-proof', 'token', 'approval'));
   CREATE TABLE pending_keys (
     key_id        TEXT PRIMARY KEY,
     name          TEXT NOT NULL,
     public_key    TEXT NOT NULL,
     product       TEXT NOT NULL,
     base          TEXT NOT NULL,
     address       TEXT NOT NULL,
     first_seen_at INTEGER NOT NULL,
     last_seen_at  INTEGER NOT NULL
   );
   CREATE TABLE registration_tokens (
     id          TEXT PRIMARY KEY,
     token_hash  TEXT NOT NULL UNIQUE,
     appliance   TEXT,
     created_at  INTEGER NOT NULL,
     expires_at  INTEGER NOT NULL,
     used_at     INTEGER,
     used_by     TEXT
   );
   CREATE TABLE revoked_keys (
     key_id     TEXT PRIMARY KEY,
     name       TEXT NOT NULL,
     revoked_at INTEGER NOT NULL
   );`,
];

export interface PublishedPackage {
  /** The sha256 of the whole package file: also its id in URLs. */
  sha256: string;
  kind: PackageKind;
  version: string;
  requires: { base?: string };
  releaseNotes: string;
  createdAt: string;
  size: number;
  signerKeyIds: string[];
  publishedAt: number;
}

/** How an appliance's key came to be enrolled. */
export type EnrolledVia = 'before-proof' | 'token' | 'approval';

export interface KnownAppliance {
  name: string;
  keyId: string;
  enrolledVia: EnrolledVia;
  product: string;
  base: string;
  firstSeenAt: number;
  lastSeenAt: number;
}

export interface DownloadRecord {
  appliance: string;
  keyId: string;
  sha256: string;
  kind: PackageKind;
  version: string;
  via: 'api' | 'download-key';
  at: number;
}

interface PackageRow {
  sha256: string;
  kind: PackageKind;
  version: string;
  requires_base: string | null;
  release_notes: string;
  created_at: string;
  size: number;
  signer_key_ids: string;
  published_at: number;
}

const toPackage = (r: PackageRow): PublishedPackage => ({
  sha256: r.sha256,
  kind: r.kind,
  version: r.version,
  requires: r.requires_base ? { base: r.requires_base } : {},
  releaseNotes: r.release_notes,
  createdAt: r.created_at,
  size: r.size,
  signerKeyIds: JSON.parse(r.signer_key_ids) as string[],
  publishedAt: r.published_at,
});

interface ApplianceRow {
  name: string;
  key_id: string;
  enrolled_via: EnrolledVia;
  product: string;
  base: string;
  first_seen_at: number;
  last_seen_at: number;
}

const toAppliance = (r: ApplianceRow): KnownAppliance => ({
  name: r.name,
  keyId: r.key_id,
  enrolledVia: r.enrolled_via,
  product: r.product,
  base: r.base,
  firstSeenAt: r.first_seen_at,
  lastSeenAt: r.last_seen_at,
});

export class UpdateStore {
  /** Pending keys, registration tokens and revoked keys (enrolment-store.ts). */
  readonly enrolment: EnrolmentStore;

  private constructor(readonly db: Db) {
    this.enrolment = new EnrolmentStore(db);
  }

  static open(file: string): UpdateStore {
    const db = openDatabase(file);
    const from = db.pragma('user_version', { simple: true }) as number;
    if (from > MIGRATIONS.length) {
      db.close();
      throw storeErrors.STORE_SCHEMA_TOO_NEW(
        `${file} has schema version ${from}, newer than this software understands (${MIGRATIONS.length}). Run the newer Gatehouse version that wrote it.`,
      );
    }
    MIGRATIONS.forEach((sql, i) => {
      if (i < from) return;
      db.transaction(() => {
        db.exec(sql);
        db.pragma(`user_version = ${i + 1}`);
      })();
    });
    return new UpdateStore(db);
  }

  close(): void {
    this.db.close();
  }

  // -- settings (operator password hash, secrets) ---------------------------------------------

  setting(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  setSetting(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  // -- catalogue ------------------------------------------------------------------------------

  packages(): PublishedPackage[] {
    return (
      this.db.prepare('SELECT * FROM packages ORDER BY kind, published_at').all() as PackageRow[]
    ).map(toPackage);
  }

  package(sha256: string): PublishedPackage | undefined {
    const row = this.db.prepare('SELECT * FROM packages WHERE sha256 = ?').get(sha256) as
      PackageRow | undefined;
    return row && toPackage(row);
  }

  packageByVersion(kind: PackageKind, version: string): PublishedPackage | undefined {
    const row = this.db
      .prepare('SELECT * FROM packages WHERE kind = ? AND version = ?')
      .get(kind, version) as PackageRow | undefined;
    return row && toPackage(row);
  }

  addPackage(p: PublishedPackage): void {
    this.db
      .prepare(
        `INSERT INTO packages (sha256, kind, version, requires_base, release_notes, created_at, size, signer_key_ids, published_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        p.sha256,
        p.kind,
        p.version,
        p.requires.base ?? null,
        p.releaseNotes,
        p.createdAt,
        p.size,
        JSON.stringify(p.signerKeyIds),
        p.publishedAt,
      );
  }

  // -- appliances -----------------------------------------------------------------------------

  appliances(): KnownAppliance[] {
    return (this.db.prepare('SELECT * FROM appliances ORDER BY name').all() as ApplianceRow[]).map(
      toAppliance,
    );
  }

  appliance(name: string): KnownAppliance | undefined {
    const row = this.db.prepare('SELECT * FROM appliances WHERE name = ?').get(name) as
      ApplianceRow | undefined;
    return row && toAppliance(row);
  }

  applianceByKey(keyId: string): KnownAppliance | undefined {
    const row = this.db.prepare('SELECT * FROM appliances WHERE key_id = ?').get(keyId) as
      ApplianceRow | undefined;
    return row && toAppliance(row);
  }

  /** Record a contact from an enrolled appliance: what it runs now, when it was last seen. */
  touchAppliance(a: { keyId: string; product: string; base: string }, now: number): void {
    this.db
      .prepare('UPDATE appliances SET product = ?, base = ?, last_seen_at = ? WHERE key_id = ?')
      .run(a.product, a.base, now, a.keyId);
  }

  /**
   * Bind `name` to a key the operator vouched for. A name bound to another key is re-keyed: the
   * new key takes over its download records (the same appliance, re-installed).
   */
  enrolAppliance(
    a: { name: string; keyId: string; publicKey: string; product: string; base: string },
    via: Exclude<EnrolledVia, 'before-proof'>,
    now: number,
  ): void {
    this.db.transaction(() => {
      if (this.appliance(a.name))
        this.db
          .prepare(
            'UPDATE appliances SET key_id = ?, public_key = ?, product = ?, base = ?, enrolled_via = ?, last_seen_at = ? WHERE name = ?',
          )
          .run(a.keyId, a.publicKey, a.product, a.base, via, now, a.name);
      else
        this.db
          .prepare(
            'INSERT INTO appliances (name, key_id, public_key, product, base, first_seen_at, last_seen_at, enrolled_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(a.name, a.keyId, a.publicKey, a.product, a.base, now, now, via);
      this.db.prepare('DELETE FROM pending_keys WHERE key_id = ?').run(a.keyId);
    })();
  }

  /** The operator reviewed an appliance enrolled before proof was required and keeps it. */
  confirmAppliance(name: string): boolean {
    return (
      this.db
        .prepare(
          "UPDATE appliances SET enrolled_via = 'approval' WHERE name = ? AND enrolled_via = 'before-proof'",
        )
        .run(name).changes > 0
    );
  }

  /** Forget an appliance's key binding and its download records. */
  forgetAppliance(name: string): boolean {
    return this.db.prepare('DELETE FROM appliances WHERE name = ?').run(name).changes > 0;
  }

  // -- downloads (S11) ------------------------------------------------------------------------

  download(keyId: string, sha256: string): DownloadRecord | undefined {
    return this.downloadRows('WHERE d.key_id = ? AND d.sha256 = ?', keyId, sha256)[0];
  }

  downloads(): DownloadRecord[] {
    return this.downloadRows('');
  }

  downloadedBy(keyId: string): Set<string> {
    const rows = this.db.prepare('SELECT sha256 FROM downloads WHERE key_id = ?').all(keyId) as {
      sha256: string;
    }[];
    return new Set(rows.map((r) => r.sha256));
  }

  recordDownload(keyId: string, sha256: string, via: 'api' | 'download-key', now: number): void {
    this.db
      .prepare('INSERT OR IGNORE INTO downloads (key_id, sha256, via, at) VALUES (?, ?, ?, ?)')
      .run(keyId, sha256, via, now);
  }

  /** Make packages available again to one appliance: one package, or all when `sha256` is absent. */
  resetDownloads(keyId: string, sha256?: string): number {
    const info =
      sha256 === undefined
        ? this.db.prepare('DELETE FROM downloads WHERE key_id = ?').run(keyId)
        : this.db
            .prepare('DELETE FROM downloads WHERE key_id = ? AND sha256 = ?')
            .run(keyId, sha256);
    return info.changes;
  }

  private downloadRows(where: string, ...params: string[]): DownloadRecord[] {
    return this.db
      .prepare(
        `SELECT a.name AS appliance, d.key_id AS keyId, d.sha256, p.kind, p.version, d.via, d.at
           FROM downloads d JOIN appliances a ON a.key_id = d.key_id JOIN packages p ON p.sha256 = d.sha256
           ${where} ORDER BY a.name, p.kind, d.at`,
      )
      .all(...params) as DownloadRecord[];
  }

  // -- operator sessions ----------------------------------------------------------------------

  addAdminSession(tokenHash: string, now: number, expiresAt: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM admin_sessions WHERE expires_at < ?').run(now);
      this.db
        .prepare('INSERT INTO admin_sessions (token_hash, created_at, expires_at) VALUES (?, ?, ?)')
        .run(tokenHash, now, expiresAt);
    })();
  }

  adminSession(tokenHash: string, now: number): boolean {
    const row = this.db
      .prepare('SELECT expires_at FROM admin_sessions WHERE token_hash = ?')
      .get(tokenHash) as { expires_at: number } | undefined;
    return !!row && row.expires_at > now;
  }

  removeAdminSession(tokenHash: string): void {
    this.db.prepare('DELETE FROM admin_sessions WHERE token_hash = ?').run(tokenHash);
  }
}
