import type { Db } from '../../store/db.js';

/**
 * The update server's records of enrolment (issue 18, finding 4): keys that asked and wait for
 * the operator, the registration tokens the operator created (only their sha256 is kept), and
 * the keys the operator revoked. Same database as the catalogue (store.ts migrates it).
 */

/** A key that contacted the server and is not enrolled: the operator may approve it. */
export interface PendingKey {
  keyId: string;
  name: string;
  publicKey: string;
  product: string;
  base: string;
  /** The address of its last contact (as the server saw it). */
  address: string;
  firstSeenAt: number;
  lastSeenAt: number;
}

export interface RegistrationTokenRecord {
  /** A short public id (the first 12 hex digits of the token's sha256), for lists and logs. */
  id: string;
  /** The one appliance name it may enrol, or null for any name not enrolled. */
  appliance: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
}

/**
 * At most this many pending keys are kept (the oldest contact goes first): anyone can add one,
 * and a real appliance adds its own again at each check.
 */
export const MAX_PENDING_KEYS = 200;

interface PendingRow {
  key_id: string;
  name: string;
  public_key: string;
  product: string;
  base: string;
  address: string;
  first_seen_at: number;
  last_seen_at: number;
}

const toPending = (r: PendingRow): PendingKey => ({
  keyId: r.key_id,
  name: r.name,
  publicKey: r.public_key,
  product: r.product,
  base: r.base,
  address: r.address,
  firstSeenAt: r.first_seen_at,
  lastSeenAt: r.last_seen_at,
});

interface TokenRow {
  id: string;
  appliance: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

const toToken = (r: TokenRow): RegistrationTokenRecord => ({
  id: r.id,
  appliance: r.appliance,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  usedBy: r.used_by,
});

export class EnrolmentStore {
  constructor(private readonly db: Db) {}

  // -- pending keys ---------------------------------------------------------------------------

  recordPending(p: Omit<PendingKey, 'firstSeenAt' | 'lastSeenAt'>, now: number): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO pending_keys (key_id, name, public_key, product, base, address, first_seen_at, last_seen_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (key_id) DO UPDATE SET name = excluded.name, product = excluded.product,
             base = excluded.base, address = excluded.address, last_seen_at = excluded.last_seen_at`,
        )
        .run(p.keyId, p.name, p.publicKey, p.product, p.base, p.address, now, now);
      this.db
        .prepare(
          'DELETE FROM pending_keys WHERE key_id NOT IN (SELECT key_id FROM pending_keys ORDER BY last_seen_at DESC LIMIT ?)',
        )
        .run(MAX_PENDING_KEYS);
    })();
  }

  pendingKeys(): PendingKey[] {
    return (
      this.db
        .prepare('SELECT * FROM pending_keys ORDER BY name, last_seen_at')
        .all() as PendingRow[]
    ).map(toPending);
  }

  removePending(keyId: string): boolean {
    return this.db.prepare('DELETE FROM pending_keys WHERE key_id = ?').run(keyId).changes > 0;
  }

  // -- registration tokens --------------------------------------------------------------------

  addToken(
    t: { id: string; tokenHash: string; appliance: string | null; expiresAt: number },
    now: number,
  ): void {
    this.db
      .prepare(
        'INSERT INTO registration_tokens (id, token_hash, appliance, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(t.id, t.tokenHash, t.appliance, now, t.expiresAt);
  }

  tokenByHash(tokenHash: string): RegistrationTokenRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM registration_tokens WHERE token_hash = ?')
      .get(tokenHash) as TokenRow | undefined;
    return row && toToken(row);
  }

  /** Spend a token; false when it was spent meanwhile (two requests raced for it). */
  spendToken(id: string, usedBy: string, now: number): boolean {
    return (
      this.db
        .prepare(
          'UPDATE registration_tokens SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL',
        )
        .run(now, usedBy, id).changes > 0
    );
  }

  tokens(): RegistrationTokenRecord[] {
    return (
      this.db.prepare('SELECT * FROM registration_tokens ORDER BY created_at').all() as TokenRow[]
    ).map(toToken);
  }

  // -- revoked keys ---------------------------------------------------------------------------

  revoke(keyId: string, name: string, now: number): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT OR REPLACE INTO revoked_keys (key_id, name, revoked_at) VALUES (?, ?, ?)')
        .run(keyId, name, now);
      this.db.prepare('DELETE FROM appliances WHERE key_id = ?').run(keyId);
      this.db.prepare('DELETE FROM pending_keys WHERE key_id = ?').run(keyId);
    })();
  }

  revoked(keyId: string): { name: string; revokedAt: number } | undefined {
    const row = this.db
      .prepare('SELECT name, revoked_at FROM revoked_keys WHERE key_id = ?')
      .get(keyId) as { name: string; revoked_at: number } | undefined;
    return row && { name: row.name, revokedAt: row.revoked_at };
  }
}
