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
  {
    version: 3,
    description:
      'Jump Client installations and enrolment tokens; console ticket generations; a change counter',
    sql: `
      CREATE TABLE jump_client_tokens (
        id          TEXT PRIMARY KEY,
        token_hash  TEXT NOT NULL UNIQUE,
        name        TEXT,
        group_name  TEXT,
        rebind      INTEGER NOT NULL DEFAULT 0,
        uses_left   INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        created_by  TEXT NOT NULL,
        created_at  INTEGER NOT NULL
      );
      CREATE TABLE jump_client_installations (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        group_name    TEXT NOT NULL,
        public_key    TEXT NOT NULL,
        fingerprint   TEXT NOT NULL,
        enrolled_with TEXT NOT NULL,
        enrolled_from TEXT NOT NULL,
        enrolled_at   INTEGER NOT NULL,
        revoked_at    INTEGER,
        revoked_by    TEXT
      );
      CREATE UNIQUE INDEX jump_client_installations_name
        ON jump_client_installations (name) WHERE revoked_at IS NULL;
      ALTER TABLE users ADD COLUMN ticket_generation INTEGER NOT NULL DEFAULT 0;
      -- A site that existed before this release has Jump Clients holding only the site-wide
      -- key: they may enrol themselves once (trust on first use) until an administrator closes
      -- that window. A new site (no user yet) starts with it closed.
      INSERT INTO site_settings (key, value, updated_at)
        SELECT 'jumpClients.legacyKeyEnrolment', 'true', CAST(unixepoch('subsec') * 1000 AS INTEGER)
        WHERE EXISTS (SELECT 1 FROM users);
      -- Raised by every change that can revoke a client (users, /login settings, Jump Client
      -- installations), whichever way it came (an administrator, a sync, a cluster push, a
      -- restore): the gateway re-checks its connected clients and a primary node pushes.
      -- The revocations column counts only what takes a client's access away: a failover primary has
      -- its backup sync at once, so a takeover cannot bring a revoked client back.
      CREATE TABLE config_changes (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        n           INTEGER NOT NULL,
        revocations INTEGER NOT NULL
      );
      INSERT INTO config_changes (id, n, revocations) VALUES (1, 0, 0);
      CREATE TRIGGER users_revoked_delete AFTER DELETE ON users
        BEGIN UPDATE config_changes SET revocations = revocations + 1; END;
      CREATE TRIGGER users_revoked_generation AFTER UPDATE OF ticket_generation ON users
        WHEN NEW.ticket_generation <> OLD.ticket_generation
        BEGIN UPDATE config_changes SET revocations = revocations + 1; END;
      CREATE TRIGGER installations_revoked AFTER UPDATE OF revoked_at ON jump_client_installations
        WHEN NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL
        BEGIN UPDATE config_changes SET revocations = revocations + 1; END;
      CREATE TRIGGER users_changed_insert AFTER INSERT ON users
        BEGIN UPDATE config_changes SET n = n + 1; END;
      CREATE TRIGGER users_changed_delete AFTER DELETE ON users
        BEGIN UPDATE config_changes SET n = n + 1; END;
      CREATE TRIGGER users_changed_update AFTER UPDATE OF
        username, display_name, email, password_hash, is_admin, disabled, ticket_generation ON users
        BEGIN UPDATE config_changes SET n = n + 1; END;
      CREATE TRIGGER site_settings_changed_insert AFTER INSERT ON site_settings
        BEGIN UPDATE config_changes SET n = n + 1; END;
      CREATE TRIGGER site_settings_changed_delete AFTER DELETE ON site_settings
        BEGIN UPDATE config_changes SET n = n + 1; END;
      CREATE TRIGGER site_settings_changed_update AFTER UPDATE ON site_settings
        BEGIN UPDATE config_changes SET n = n + 1; END;
      CREATE TRIGGER installations_changed_insert AFTER INSERT ON jump_client_installations
        BEGIN UPDATE config_changes SET n = n + 1; END;
      CREATE TRIGGER installations_changed_delete AFTER DELETE ON jump_client_installations
        BEGIN UPDATE config_changes SET n = n + 1; END;
      CREATE TRIGGER installations_changed_update AFTER UPDATE ON jump_client_installations
        BEGIN UPDATE config_changes SET n = n + 1; END;
    `,
  },
  {
    version: 4,
    description: 'session records: the moves and total pause of a resumable session',
    sql: `
      -- A resumable session is recorded in parts (<session>.<n>): each part's record says how
      -- many times the session moved before it and how long it was paused in total.
      ALTER TABLE session_records ADD COLUMN moves INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE session_records ADD COLUMN paused_ms INTEGER NOT NULL DEFAULT 0;
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
  'jump_client_tokens',
  'jump_client_installations',
] as const;
/**
 * Site tables whose copy is replaced whole by a restore (or a sync): the primary's state wins.
 * The cluster's nodes travel too, so a failover backup of a primary node can take over as the
 * cluster's primary node (S17).
 */
export const REPLACED_SITE_TABLES = [
  'users',
  'site_settings',
  'files',
  'cluster_nodes',
  'jump_client_tokens',
  'jump_client_installations',
] as const;
/** Site tables that are history: merged by identity, so no record is ever lost. */
export const MERGED_SITE_TABLES = ['events', 'session_records'] as const;
export const APPLIANCE_TABLES = [
  'appliance_admins',
  'appliance_settings',
  'network_addresses',
  'auth_sessions',
  'cluster_cursors',
  'config_changes',
] as const;
