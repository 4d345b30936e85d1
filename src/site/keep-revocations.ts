import type { Db } from '../store/db.js';

/**
 * A restore puts back the site's users, Jump Client installations and enrolment tokens as they
 * were in the backup, but never a credential revoked since (issue 18): the backup may be older
 * than the revocation. Called inside the restore's transaction: `capture` before the tables are
 * replaced, the returned function after.
 *
 * - Every console ticket issued before the restore dies: each user's ticket generation goes
 *   above both copies' (the restore already ends every /login web session).
 * - A user disabled now stays disabled; one deleted since the backup (its `user.deleted` event
 *   is in the history, which a restore keeps) comes back disabled, for an administrator to
 *   enable on purpose.
 * - A Jump Client installation revoked now stays revoked.
 * - An enrolment token is never given back uses it spent: one gone now (spent, expired or
 *   deleted) stays gone, the others keep the fewer uses left.
 *
 * A restore onto a fresh appliance (disaster recovery) has nothing to keep: the backup's
 * state comes back whole, and still no ticket issued before the restore is honoured.
 */
export function keepRevocations(db: Db, backupCreatedAt: number): () => void {
  db.exec(`
    DROP TABLE IF EXISTS temp.kept_users;
    DROP TABLE IF EXISTS temp.kept_revoked_installations;
    DROP TABLE IF EXISTS temp.kept_tokens;
    CREATE TEMP TABLE kept_users AS SELECT id, disabled, ticket_generation FROM main.users;
    CREATE TEMP TABLE kept_revoked_installations AS
      SELECT id, revoked_at, revoked_by FROM main.jump_client_installations
      WHERE revoked_at IS NOT NULL;
    CREATE TEMP TABLE kept_tokens AS SELECT id, uses_left FROM main.jump_client_tokens;
  `);
  return () => {
    db.exec(`
      UPDATE main.users SET ticket_generation = 1 + max(ticket_generation,
        coalesce((SELECT k.ticket_generation FROM temp.kept_users k WHERE k.id = users.id), 0));
      UPDATE main.jump_client_installations
        SET revoked_at = (SELECT k.revoked_at FROM temp.kept_revoked_installations k
                          WHERE k.id = jump_client_installations.id),
            revoked_by = (SELECT k.revoked_by FROM temp.kept_revoked_installations k
                          WHERE k.id = jump_client_installations.id)
        WHERE revoked_at IS NULL AND id IN (SELECT id FROM temp.kept_revoked_installations);
      DELETE FROM main.jump_client_tokens WHERE id NOT IN (SELECT id FROM temp.kept_tokens);
      UPDATE main.jump_client_tokens SET uses_left = min(uses_left,
        (SELECT k.uses_left FROM temp.kept_tokens k WHERE k.id = jump_client_tokens.id));
    `);
    db.prepare(
      `UPDATE main.users SET disabled = 1 WHERE disabled = 0 AND (
         id IN (SELECT id FROM temp.kept_users WHERE disabled = 1)
         OR (id NOT IN (SELECT id FROM temp.kept_users) AND username IN (
           SELECT target FROM main.events WHERE action = 'user.deleted' AND ts > ?)))`,
    ).run(backupCreatedAt);
    db.exec(`
      DROP TABLE temp.kept_users;
      DROP TABLE temp.kept_revoked_installations;
      DROP TABLE temp.kept_tokens;
    `);
  };
}
