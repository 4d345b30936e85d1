/**
 * Schema migrations, applied in order inside one transaction each. The schema version is
 * SQLite's `user_version`; an appliance refuses a database newer than the code it runs.
 * Append only: never edit a migration that has shipped.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'users, settings, event log, file store, session records, auth sessions',
    sql: `
      CREATE TABLE appliance_admins (
        username        TEXT PRIMARY KEY,
        password_hash   TEXT NOT NULL,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until    INTEGER,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      );
      CREATE TABLE users (
        id              TEXT PRIMARY KEY,
        username        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name    TEXT NOT NULL,
        email           TEXT,
        password_hash   TEXT NOT NULL,
        is_admin        INTEGER NOT NULL DEFAULT 0,
        disabled        INTEGER NOT NULL DEFAULT 0,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until    INTEGER,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      );
      CREATE TABLE site_settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE appliance_settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE network_addresses (
        address    TEXT PRIMARY KEY,
        kind       TEXT NOT NULL CHECK (kind IN ('unique', 'shared')),
        label      TEXT NOT NULL DEFAULT '',
        enabled    INTEGER NOT NULL DEFAULT 1,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE events (
        id        TEXT PRIMARY KEY,
        ts        INTEGER NOT NULL,
        appliance TEXT NOT NULL,
        area      TEXT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        target    TEXT NOT NULL DEFAULT '',
        outcome   TEXT NOT NULL DEFAULT 'ok',
        details   TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX events_ts ON events (ts DESC, id DESC);
      CREATE TABLE files (
        name         TEXT PRIMARY KEY,
        sha256       TEXT NOT NULL,
        size         INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        uploaded_by  TEXT NOT NULL,
        uploaded_at  INTEGER NOT NULL
      );
      CREATE TABLE session_records (
        id               TEXT PRIMARY KEY,
        appliance        TEXT NOT NULL,
        representative   TEXT NOT NULL,
        jump_client      TEXT NOT NULL,
        target           TEXT NOT NULL,
        started_at       INTEGER NOT NULL,
        ended_at         INTEGER,
        bytes_in         INTEGER NOT NULL DEFAULT 0,
        bytes_out        INTEGER NOT NULL DEFAULT 0,
        recording_sha256 TEXT,
        recording_size   INTEGER
      );
      CREATE INDEX session_records_started ON session_records (started_at DESC);
      CREATE TABLE auth_sessions (
        token_hash   TEXT PRIMARY KEY,
        area         TEXT NOT NULL CHECK (area IN ('appliance', 'login')),
        principal    TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'cluster traffic nodes of a primary node',
    sql: `
      CREATE TABLE cluster_nodes (
        name            TEXT PRIMARY KEY,
        host            TEXT NOT NULL,
        port            INTEGER NOT NULL,
        fingerprint     TEXT NOT NULL,
        region          TEXT NOT NULL,
        accepting       INTEGER NOT NULL DEFAULT 1,
        added_at        INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      );
      CREATE TABLE cluster_cursors (
        node       TEXT NOT NULL,
        tbl        TEXT NOT NULL,
        after      INTEGER NOT NULL,
        PRIMARY KEY (node, tbl)
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Tables whose content belongs to the site (backed up, restored, later synchronised). The
 * rest belongs to this appliance alone: its admin accounts, keys, addresses and sessions.
 */
export const SITE_TABLES = [
  'users',
  'site_settings',
  'events',
  'files',
  'session_records',
  'cluster_nodes',
] as const;
/**
 * Site tables whose copy is replaced whole by a restore (or a sync): the primary's state wins.
 * The cluster's nodes travel too, so a failover backup of a primary node can take over as the
 * cluster's primary node (S17).
 */
export const REPLACED_SITE_TABLES = ['users', 'site_settings', 'files', 'cluster_nodes'] as const;
/** Site tables that are history: merged by identity, so no record is ever lost. */
export const MERGED_SITE_TABLES = ['events', 'session_records'] as const;
export const APPLIANCE_TABLES = [
  'appliance_admins',
  'appliance_settings',
  'network_addresses',
  'auth_sessions',
  'cluster_cursors',
] as const;
