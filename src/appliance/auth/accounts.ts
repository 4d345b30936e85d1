import type { Db } from '../../store/db.js';
import { hashPassword } from '../../shared/crypto.js';

/**
 * The /appliance administrator accounts. They belong to this appliance alone (not synchronised,
 * not in backups), apart from the /login users of the site.
 */
export class ApplianceAdmins {
  constructor(private readonly db: Db) {}

  async create(username: string, password: string): Promise<void> {
    const now = Date.now();
    this.db
      .prepare(
        'INSERT INTO appliance_admins (username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)',
      )
      .run(username, await hashPassword(password), now, now);
  }

  row(
    username: string,
  ):
    | {
        username: string;
        password_hash: string;
        failed_attempts: number;
        locked_until: number | null;
      }
    | undefined {
    return this.db
      .prepare('SELECT * FROM appliance_admins WHERE username = ?')
      .get(username) as never;
  }
}
