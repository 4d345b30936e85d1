import type { Db } from '../../store/db.js';
import { hashPassword, verifyPassword } from '../../shared/crypto.js';
import { fieldError } from '../../shared/errors.js';
import type { Actor } from '../../shared/actor.js';
import type { EventLog } from '../../site/events.js';
import { passwordProblem } from '../../site/users.js';

/**
 * The /appliance administrator accounts. They belong to this appliance alone (not synchronised,
 * not in backups), apart from the /login users of the site.
 */
export class ApplianceAdmins {
  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  async create(username: string, password: string): Promise<void> {
    const now = Date.now();
    this.db
      .prepare(
        'INSERT INTO appliance_admins (username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)',
      )
      .run(username, await hashPassword(password), now, now);
  }

  row(username: string):
    | {
        username: string;
        password_hash: string;
        updated_at: number;
      }
    | undefined {
    return this.db
      .prepare('SELECT * FROM appliance_admins WHERE username = ?')
      .get(username) as never;
  }

  /** Change an administrator's own password; the current one must be given. */
  async changePassword(
    actor: Actor,
    current: string,
    next: string,
    minLength: number,
  ): Promise<void> {
    const row = this.row(actor.name);
    if (!row || !(await verifyPassword(current, row.password_hash))) {
      throw fieldError(
        'currentPassword',
        'is not your current password',
        'AUTH_INVALID_CREDENTIALS',
      );
    }
    const problem = passwordProblem(next, actor.name, minLength);
    if (problem) throw fieldError('newPassword', problem, 'PASSWORD_TOO_WEAK');
    const hash = await hashPassword(next);
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE appliance_admins SET password_hash = ?, updated_at = ? WHERE username = ?')
        .run(hash, Date.now(), actor.name);
      this.events.record(actor, 'appliance.admin.password_changed', actor.name);
    })();
  }
}
